package outbound

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"
)

func TestAccountMailsCarryTheirLinkAndNoTicket(t *testing.T) {
	c := testComposer(t)
	for _, kind := range AccountKinds {
		for _, lang := range Languages {
			t.Run(kind+"/"+lang, func(t *testing.T) {
				link := "https://help.example.com/x/" + strings.Repeat("T", 43)
				m, err := c.Compose(Notice{Kind: kind, Lang: lang, To: mail.Address{Address: "alice@example.org"},
					ActionURL: link, ValidMinutes: 15, AutoSubmitted: "auto-generated"})
				if err != nil {
					t.Fatal(err)
				}
				env, err := enmime.ReadEnvelope(bytes.NewReader(m.Raw))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(env.Text, link) || !strings.Contains(env.HTML, `href="`+link+`"`) || !strings.Contains(env.Text, "15") {
					t.Errorf("link or minutes missing:\n%s\n%s", env.Text, env.HTML)
				}
				if env.GetHeader("X-Mxdesk-Ticket") != "" || env.GetHeader("Reply-To") != "" || env.GetHeader("Auto-Submitted") != "auto-generated" {
					t.Errorf("headers: ticket %q, reply-to %q, auto %q", env.GetHeader("X-Mxdesk-Ticket"), env.GetHeader("Reply-To"), env.GetHeader("Auto-Submitted"))
				}
				if strings.Contains(env.HTML, "Reply to this message") || strings.Contains(env.HTML, "Antworten Sie einfach") {
					t.Error("an account mail invites a reply")
				}
			})
		}
	}
}
