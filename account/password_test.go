package account

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckPasswordRules(t *testing.T) {
	for _, tc := range []struct {
		name, pw, email, brand, want string
	}{
		{"eight characters pass", "zq8#kf2p", "ann@example.org", "Acme", ""},
		{"seven do not", "zq8#kf2", "ann@example.org", "Acme", "too_short"},
		{"characters, not bytes", "äöüßäöü", "ann@example.org", "Acme", "too_short"},
		{"256 characters pass", strings.Repeat("ab", 128), "x@example.org", "Acme", ""},
		{"257 do not", strings.Repeat("ab", 128) + "c", "x@example.org", "Acme", "too_long"},
		{"a megabyte does not, cheaply", strings.Repeat("a", 1<<20), "x@example.org", "Acme", "too_long"},
		{"only spaces", "            ", "x@example.org", "Acme", "only_spaces"},
		{"spaces inside are fine", "blue  moon  over  hills", "x@example.org", "Acme", ""},
		{"blocklisted", "password1", "x@example.org", "Acme", "common"},
		{"blocklisted, any case", "PassWord1", "x@example.org", "Acme", "common"},
		{"the local part", "I am Margarethe!", "margarethe@example.org", "Acme", "contains_email"},
		{"a short local part is no rule", "al is my name ok", "al@example.org", "Acme", ""},
		{"the brand", "acme rocks 2026", "x@example.org", "ACME", "contains_brand"},
		{"no composition rules", "correcthorsebatterystaple", "x@example.org", "Acme", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPassword(tc.pw, tc.email, tc.brand)
			var pe *PasswordError
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (!errors.As(err, &pe) || pe.Reason != tc.want):
				t.Errorf("got %v, want %s", err, tc.want)
			}
		})
	}
	if n := CommonPasswords(); n < 3000 {
		t.Errorf("blocklist has %d passwords", n)
	}
}

func TestHashIsArgon2idPHCAndRehashesOldParameters(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(DefaultParams, 2)
	phc, err := h.Hash(ctx, "ｐａｓｓ ２０２６ word") // full-width: NFKC makes it ASCII
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("PHC string %s", phc)
	}
	if ok, rehash, err := h.Verify(ctx, "pass 2026 word", phc); !ok || rehash || err != nil {
		t.Errorf("verify: %v %v %v", ok, rehash, err)
	}
	if ok, _, _ := h.Verify(ctx, "pass 2026 worD", phc); ok {
		t.Error("a wrong password verified")
	}
	old := NewHasher(Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1}, 1)
	oldPHC, _ := old.Hash(ctx, "long enough secret")
	if ok, rehash, _ := h.Verify(ctx, "long enough secret", oldPHC); !ok || !rehash {
		t.Errorf("old parameters: ok %v rehash %v", ok, rehash)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", "plain"} {
		if _, _, err := h.Verify(ctx, "x", bad); err == nil {
			t.Errorf("%q accepted as a hash", bad)
		}
	}
}

func TestHasherRunsAtMostItsLimitAtOnce(t *testing.T) {
	h := NewHasher(Params{Time: 1, MemoryKiB: 1024, Threads: 1}, 2)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if err := h.acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			running.Add(-1)
			h.release()
		})
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Errorf("peak %d hashes at once, want 2", p)
	}
	// A request that gives up while waiting does not hash.
	h.acquire(context.Background())
	h.acquire(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "a password here"); !errors.Is(err, context.Canceled) {
		t.Errorf("hash with a cancelled context while full: %v", err)
	}
}

func TestThrottleBuckets(t *testing.T) {
	th := newThrottle()
	now := time.Unix(1_000_000, 0)
	r := Rate{Burst: 3, Every: time.Minute}
	for i := range 3 {
		if err := th.allow(now, []string{"k"}, []Rate{r}); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	err := th.allow(now, []string{"k"}, []Rate{r})
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != 61*time.Second {
		t.Fatalf("4th: %v", err)
	}
	if err := th.allow(now.Add(time.Minute), []string{"k"}, []Rate{r}); err != nil {
		t.Errorf("after a minute: %v", err)
	}
	// A refused attempt spends from no bucket.
	big := Rate{Burst: 100, Every: time.Second}
	th.allow(now.Add(time.Minute), []string{"ip", "k"}, []Rate{big, r})
	if err := th.allow(now.Add(2*time.Minute), []string{"ip2", "k"}, []Rate{big, r}); err != nil {
		t.Errorf("refused attempt spent a token: %v", err)
	}
	// Past max keys, refilled buckets are dropped, not the busy ones.
	th.max = 2
	th.allow(now.Add(time.Hour), []string{"new1"}, []Rate{r})
	th.allow(now.Add(time.Hour), []string{"new2"}, []Rate{r})
	if len(th.buckets) > 3 {
		t.Errorf("%d buckets kept", len(th.buckets))
	}
}

func TestCodeShapes(t *testing.T) {
	for in, want := range map[string]CodeKind{
		"123456": CodeTOTP, " 123 456 ": CodeTOTP, "12345": CodeMalformed, "1234567": CodeMalformed,
		"abcde-fghij": CodeRecovery, "ABCDE FGHIJ": CodeRecovery, "abcde-fghi1": CodeMalformed, "": CodeMalformed,
		"１２３４５６": CodeMalformed,
	} {
		if _, got := normalizeCode(in); got != want {
			t.Errorf("normalizeCode(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestParseAddress(t *testing.T) {
	for in, ok := range map[string]bool{
		"a@example.org": true, " A@Example.ORG ": true, "a@": false, "@x": false, "a b@x": false,
		"A <a@x.org>": false, "a@x.org, b@x.org": false, strings.Repeat("a", 65) + "@x.org": false,
		strings.Repeat("a", 60) + "@" + strings.Repeat("b", 190) + ".org": false, "a\r\n@x.org": false,
	} {
		if _, err := ParseAddress(in); (err == nil) != ok {
			t.Errorf("ParseAddress(%q): %v", in, err)
		}
	}
}
