package portal_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/ticket"
)

// addMessage stores a message with HTML, raw bytes and attachments on a ticket.
func addMessage(t *testing.T, st *store.Store, ticketID int64, kind, html, raw string, files map[string]string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	ids := map[string]int64{}
	err := st.Tx(ctx, func(tx *sqlx.Tx) error {
		sum, err := store.PutBlob(ctx, tx, []byte(raw))
		if err != nil {
			return err
		}
		m := &store.Message{TicketID: ticketID, Direction: "in", Kind: kind, FromAddr: "alice@example.org",
			HTML: html, Text: "text of " + kind, RawSHA256: &sum, CreatedAt: store.Now()}
		if err := store.InsertMessage(ctx, tx, m); err != nil {
			return err
		}
		ids["message"] = m.ID
		for name, cid := range files {
			a := &store.Attachment{MessageID: m.ID, Filename: name, ContentType: "image/png", ContentID: cid}
			if strings.HasSuffix(name, ".pdf") {
				a.ContentType = "application/pdf"
			}
			if err := store.InsertAttachment(ctx, tx, a, []byte("bytes of "+name)); err != nil {
				return err
			}
			ids[name] = a.ID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func fetch(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestTheTicketPageShowsTheConversationAndOnlyItsOwnFiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		a := f.newTicket(t, "alice@example.org")
		b := f.newTicket(t, "bob@example.net")
		ids := addMessage(t, st, a, "customer",
			`<p>See the photo:</p><img src="cid:photo1@mail"><p>Thanks</p><div class="gmail_quote">On Mon, Bob wrote:<blockquote>old quoted stuff</blockquote></div><script>alert(1)</script>`,
			"From: alice@example.org\r\nSubject: x\r\n\r\nthe original bytes\r\n",
			map[string]string{"photo.png": "<photo1@mail>", "invoice.pdf": ""})
		addMessage(t, st, a, "note", "", "x", nil)
		other := addMessage(t, st, b, "customer", "", "bob's original", map[string]string{"bob.pdf": ""})
		token := f.links.Token(ticket.Link{Action: ticket.ActionView, TicketID: a, Expires: time.Now().Add(time.Hour), Nonce: "v"})
		base := f.srv.URL + "/l/" + token

		code, hdr, body := fetch(t, base)
		if code != 200 {
			t.Fatalf("view: %d", code)
		}
		for _, want := range []string{fmt.Sprintf(`src="/l/%s/a/%d"`, token, ids["photo.png"]), "See the photo", "invoice.pdf",
			fmt.Sprintf("/m/%d/raw", ids["message"])} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		for _, banned := range []string{"old quoted stuff", "<script", "text of note", "cid:"} {
			if strings.Contains(body, banned) {
				t.Errorf("page shows %q", banned)
			}
		}
		if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self'") {
			t.Errorf("CSP %q lets remote images load", csp)
		}

		code, hdr, body = fetch(t, fmt.Sprintf("%s/a/%d", base, ids["invoice.pdf"]))
		if code != 200 || body != "bytes of invoice.pdf" || hdr.Get("Content-Type") != "application/octet-stream" ||
			!strings.HasPrefix(hdr.Get("Content-Disposition"), "attachment") {
			t.Errorf("pdf: %d %v %q", code, hdr, body)
		}
		if code, hdr, _ = fetch(t, fmt.Sprintf("%s/a/%d", base, ids["photo.png"])); code != 200 || hdr.Get("Content-Type") != "image/png" {
			t.Errorf("inline image: %d %v", code, hdr)
		}
		if code, _, body = fetch(t, fmt.Sprintf("%s/m/%d/raw", base, ids["message"])); code != 200 || !strings.Contains(body, "the original bytes") {
			t.Errorf("raw: %d %q", code, body)
		}
		// Another ticket's files, through this ticket's link: not found, not forbidden.
		for _, u := range []string{fmt.Sprintf("%s/a/%d", base, other["bob.pdf"]), fmt.Sprintf("%s/m/%d/raw", base, other["message"]),
			base + "/a/999999", base + "/a/x"} {
			if code, _, body := fetch(t, u); code != 404 || strings.Contains(body, "bob") {
				t.Errorf("%s: %d", u, code)
			}
		}
		// A close link is not a key to the files.
		closeTok := f.links.Token(ticket.Link{Action: ticket.ActionClose, TicketID: a, Expires: time.Now().Add(time.Hour), Nonce: "c"})
		if code, _, _ := fetch(t, fmt.Sprintf("%s/l/%s/a/%d", f.srv.URL, closeTok, ids["invoice.pdf"])); code != 404 {
			t.Errorf("file through a close link: %d", code)
		}
	})
}
