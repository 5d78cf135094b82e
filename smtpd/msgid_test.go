package smtpd

import "testing"

func TestHeaderMessageID(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"Subject: x\r\nMessage-ID: <a@b>\r\n\r\nbody", "<a@b>"},
		{"message-id:\r\n <folded@b>\r\nX: y\r\n\r\n", "<folded@b>"},
		{"Subject: x\n\nMessage-ID: <in-body@b>\n", ""},
		{"Subject: no id\r\n\r\n", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := headerMessageID([]byte(tt.raw)); got != tt.want {
			t.Errorf("headerMessageID(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}
