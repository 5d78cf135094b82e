package threading

import (
	"strings"
	"testing"
)

func TestTokensRoundTripAndRefuseTampering(t *testing.T) {
	s := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	other := NewSigner([]byte("another secret, also 32 bytes!!!"))
	good := s.Token(RoleCustomer, 42)
	agent := s.Token(RoleAgent, 42)
	if good == agent {
		t.Fatal("customer and agent tokens of one ticket are equal")
	}
	flip := []byte(good)
	flip[len(flip)-1] ^= 1
	tests := []struct {
		name   string
		token  string
		wantID int64
		role   Role
		ok     bool
	}{
		{"valid customer token", good, 42, RoleCustomer, true},
		{"valid agent token", agent, 42, RoleAgent, true},
		{"upper-cased by an MTA", strings.ToUpper(good), 42, RoleCustomer, true},
		{"id edited", strings.Replace(good, "t42-", "t43-", 1), 0, 0, false},
		{"role edited", "a" + good[1:], 0, 0, false},
		{"mac bit flipped", string(flip), 0, 0, false},
		{"other server's secret", other.Token(RoleCustomer, 42), 0, 0, false},
		{"bare id", "42", 0, 0, false},
		{"empty", "", 0, 0, false},
		{"no mac", "t42-", 0, 0, false},
		{"leading zero", "t042-" + strings.SplitN(good, "-", 2)[1], 0, 0, false},
		{"huge id", "t99999999999999999999-abc", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, role, ok := s.Parse(tt.token)
			if ok != tt.ok || id != tt.wantID || role != tt.role {
				t.Errorf("Parse(%q) = %d, %c, %v; want %d, %c, %v", tt.token, id, role, ok, tt.wantID, tt.role, tt.ok)
			}
		})
	}
}

func TestReplyAddressSplitsBack(t *testing.T) {
	addr := ReplyAddress("support@example.com", "t7-abc")
	if addr != "support+t7-abc@example.com" {
		t.Fatalf("ReplyAddress = %q", addr)
	}
	base, tag, has := SplitSubaddress(addr)
	if base != "support@example.com" || tag != "t7-abc" || !has {
		t.Fatalf("SplitSubaddress = %q %q %v", base, tag, has)
	}
	if base, tag, has := SplitSubaddress("support@example.com"); base != "support@example.com" || tag != "" || has {
		t.Fatalf("SplitSubaddress(plain) = %q %q %v", base, tag, has)
	}
	if _, _, has := SplitSubaddress("support+@example.com"); !has {
		t.Fatal("empty tag not noticed")
	}
}

func FuzzParseToken(f *testing.F) {
	s := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	f.Add(s.Token(RoleCustomer, 1))
	f.Add("t1-")
	f.Add("a-1-x")
	f.Fuzz(func(t *testing.T, tok string) {
		id, role, ok := s.Parse(tok)
		if ok && s.Token(role, id) != strings.ToLower(tok) {
			t.Fatalf("accepted %q which is not the token of %c%d", tok, role, id)
		}
	})
}
