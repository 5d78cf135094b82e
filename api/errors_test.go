package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/api"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func TestEveryBadRequestGetsAProblemDocument(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		support, _ := f.seed(3, 0)
		tk := fmt.Sprintf("/api/v1/tickets/%d", support[0])

		// A cursor from one list is refused on another, and a forged one anywhere.
		var p ticketPage
		f.get("/api/v1/tickets?limit=1&status=open", "ana").decode(t, &p)
		if p.NextCursor == nil {
			t.Fatal("no cursor")
		}
		otherFilter := "/api/v1/tickets?limit=1&status=closed&cursor=" + *p.NextCursor
		otherSort := "/api/v1/tickets?limit=1&status=open&sort=id&cursor=" + *p.NextCursor

		revoked := f.token("ana@example.com", false)
		var rid int64
		storetest.MustNotErr(t, "token id", st.DB.Get(&rid, st.DB.Rebind("SELECT id FROM api_tokens WHERE token_hash = ?"), api.HashToken(revoked)))
		storetest.MustNotErr(t, "revoke", store.RevokeAPIToken(f.ctx, st.DB, rid))

		for _, tc := range []struct {
			name, method, path, who string
			status                  int
			field                   string // the field a 422 names
		}{
			{"no token", "GET", "/api/v1/tickets", "", 401, ""},
			{"not bearer", "GET", "/api/v1/tickets", "Basic YWxpY2U6cGFzc3dvcmQ=", 401, ""},
			{"garbage token", "GET", "/api/v1/tickets", "Bearer mxd_garbage", 401, ""},
			{"unknown token of the right shape", "GET", "/api/v1/tickets", "Bearer mxd_" + strings.Repeat("A", 43), 401, ""},
			{"revoked token", "GET", "/api/v1/tickets", "Bearer " + revoked, 401, ""},
			{"unknown parameter", "GET", "/api/v1/tickets?stauts=open", "ana", 400, ""},
			{"parameter twice", "GET", "/api/v1/tickets?status=open&status=closed", "ana", 400, ""},
			{"limit not a number", "GET", "/api/v1/tickets?limit=ten", "ana", 400, ""},
			{"limit too large", "GET", "/api/v1/tickets?limit=1000", "ana", 422, "limit"},
			{"limit zero", "GET", "/api/v1/tickets?limit=0", "ana", 422, "limit"},
			{"unknown status", "GET", "/api/v1/tickets?status=bogus", "ana", 422, "status"},
			{"unknown priority", "GET", "/api/v1/tickets?priority=asap", "ana", 422, "priority"},
			{"unknown sort", "GET", "/api/v1/tickets?sort=subject", "ana", 422, "sort"},
			{"unknown team", "GET", "/api/v1/tickets?team=Nope", "ana", 422, "team"},
			{"unknown assignee", "GET", "/api/v1/tickets?assignee=zed@example.com", "ana", 422, "assignee"},
			{"bad time", "GET", "/api/v1/tickets?updated_since=yesterday", "ana", 422, "updated_since"},
			{"count not a boolean", "GET", "/api/v1/tickets?count=yes", "ana", 400, ""},
			{"cursor not base64", "GET", "/api/v1/tickets?cursor=%25%25%25", "ana", 400, ""},
			{"cursor of other JSON", "GET", "/api/v1/tickets?cursor=eyJ4IjoxfQ", "ana", 400, ""},
			{"cursor of SQL", "GET", "/api/v1/tickets?cursor=JyBPUiAxPTEgLS0", "ana", 400, ""},
			{"cursor of another filter", "GET", otherFilter, "ana", 400, ""},
			{"cursor of another order", "GET", otherSort, "ana", 400, ""},
			{"huge cursor", "GET", "/api/v1/tickets?cursor=" + strings.Repeat("A", 5000), "ana", 400, ""},
			{"ticket id not a number", "GET", "/api/v1/tickets/abc", "ana", 404, ""},
			{"ticket id negative", "GET", "/api/v1/tickets/-1", "ana", 404, ""},
			{"ticket id too large", "GET", "/api/v1/tickets/99999999999999999999", "ana", 404, ""},
			{"no such ticket", "GET", "/api/v1/tickets/999999", "ana", 404, ""},
			{"query on a ticket", "GET", tk + "?x=1", "ana", 400, ""},
			{"no such attachment", "GET", "/api/v1/attachments/999999", "ana", 404, ""},
			{"no such contact", "GET", "/api/v1/contacts/999999", "ana", 404, ""},
			{"no such route", "GET", "/api/v1/things", "ana", 404, ""},
			{"wrong method", "DELETE", tk, "ana", 405, ""},
			{"wrong method on a list", "PUT", "/api/v1/tickets", "ana", 405, ""},
			{"feedback: bad since", "GET", "/api/v1/feedback?since=last+week", "ana", 422, "since"},
			{"feedback: unknown team", "GET", "/api/v1/feedback?team=Nope", "ana", 422, "team"},
			{"contacts: limit", "GET", "/api/v1/contacts?limit=101", "ana", 422, "limit"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := f.do(tc.method, tc.path, tc.who, nil)
				if r.status != tc.status {
					t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, r.status, tc.status, r.body)
				}
				p := r.problem(t)
				switch tc.status {
				case 401:
					if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("401 without WWW-Authenticate: Bearer: %v", r.header)
					}
				case 405:
					if r.header.Get("Allow") == "" {
						t.Errorf("405 without Allow")
					}
				case 422:
					if len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
						t.Errorf("422 errors %+v, want field %s", p.Errors, tc.field)
					}
				}
			})
		}
	})
}

// TestAnAgentSeesNothingOfAnotherTeam runs every read as Bob (Billing) with the ids of
// Support's ticket, message attachment and contact: each is a 404, exactly like an id
// that does not exist, and every list leaves them out.
func TestAnAgentSeesNothingOfAnotherTeam(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		id := f.mail("alice@example.org", "support@example.com", withAttachment("alice@example.org", "support@example.com", "Photo", "p1@example.org"))
		var att, contact int64
		storetest.MustNotErr(t, "attachment", st.DB.Get(&att, "SELECT id FROM attachments"))
		storetest.MustNotErr(t, "contact", st.DB.Get(&contact, "SELECT contact_id FROM tickets"))
		paths := []string{
			fmt.Sprintf("/api/v1/tickets/%d", id),
			fmt.Sprintf("/api/v1/tickets/%d/messages", id),
			fmt.Sprintf("/api/v1/attachments/%d", att),
			fmt.Sprintf("/api/v1/contacts/%d", contact),
		}
		for _, who := range []string{"bob", "nobody"} {
			for _, p := range paths {
				r := f.get(p, who)
				missing := f.get(strings.Replace(p, fmt.Sprint("/", id), "/999999", 1), who)
				if r.status != 404 {
					t.Errorf("%s GET %s: %d, want 404", who, p, r.status)
				}
				if pr := r.problem(t); pr.Type != "urn:mxdesk:problem:not-found" || missing.status != 404 {
					t.Errorf("%s GET %s: %+v", who, p, pr)
				}
			}
			for _, list := range []string{"/api/v1/tickets", "/api/v1/contacts", "/api/v1/feedback", "/api/v1/tickets?q=photo"} {
				r := f.get(list, who)
				if r.status != 200 || strings.Contains(string(r.body), "alice@example.org") {
					t.Errorf("%s GET %s shows Support's: %d %s", who, list, r.status, r.body)
				}
			}
		}
		// Writes: 404, and not a row changes.
		snapshot := func() string {
			return fmt.Sprint(f.count("SELECT COUNT(*) FROM messages"), f.count("SELECT COUNT(*) FROM outbox"),
				f.count("SELECT COUNT(*) FROM events"), f.ticket(id).UpdatedAt.UnixMicro())
		}
		before := snapshot()
		for _, who := range []string{"bob", "nobody"} {
			for _, w := range []struct {
				method, path string
				body         any
			}{
				{"POST", fmt.Sprintf("/api/v1/tickets/%d/messages", id), map[string]string{"type": "reply", "body": "Mallory says hi."}},
				{"POST", fmt.Sprintf("/api/v1/tickets/%d/messages", id), map[string]string{"type": "note", "body": "x"}},
				{"PATCH", fmt.Sprintf("/api/v1/tickets/%d", id), map[string]string{"status": "closed"}},
				{"PATCH", fmt.Sprintf("/api/v1/tickets/%d", id), map[string]string{"team": "Billing"}},
			} {
				if r := f.json(w.method, w.path, who, w.body); r.status != 404 {
					t.Errorf("%s %s %s: %d, want 404", who, w.method, w.path, r.status)
				}
			}
		}
		if after := snapshot(); after != before {
			t.Errorf("another team's writes changed rows: %s -> %s", before, after)
		}
		for _, p := range paths {
			if r := f.get(p, "ana"); r.status != 200 {
				t.Errorf("ana GET %s: %d", p, r.status)
			}
			if r := f.get(p, "admin"); r.status != 200 {
				t.Errorf("admin GET %s: %d", p, r.status)
			}
		}
	})
}

func TestATokenThatSendsTooFastIsToldWhenToComeBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st, func(c *api.Config) { c.RatePerSecond, c.Burst = 0.5, 3 })
		for i := range 3 {
			if r := f.get("/api/v1/tickets", "ana"); r.status != 200 {
				t.Fatalf("request %d within the burst: %d", i, r.status)
			}
		}
		r := f.get("/api/v1/tickets", "ana")
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" {
			t.Fatalf("past the burst: %d, Retry-After %q; want 429 and 2", r.status, r.header.Get("Retry-After"))
		}
		r.problem(t)
		// Another token has its own budget.
		if r := f.get("/api/v1/tickets", "bob"); r.status != 200 {
			t.Errorf("bob while ana is limited: %d", r.status)
		}
		f.clock.add(2 * time.Second)
		if r := f.get("/api/v1/tickets", "ana"); r.status != 200 {
			t.Errorf("after Retry-After: %d", r.status)
		}
	})
}

// TestEveryRouteIsDescribedAndEveryDescribedOperationIsServed compares the server's
// route table with openapi.yaml; TestMain checks that every operation was exercised.
func TestEveryRouteIsDescribedAndEveryDescribedOperationIsServed(t *testing.T) {
	doc, err := api.Spec()
	if err != nil {
		t.Fatal(err)
	}
	var described []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described = append(described, method+" "+path)
		}
	}
	srv, err := api.New(api.Config{})
	if err != nil {
		t.Fatal(err)
	}
	served := srv.Routes()
	sort.Strings(described)
	sort.Strings(served)
	if !slices.Equal(described, served) {
		t.Errorf("routes and openapi.yaml differ:\nserved    %v\ndescribed %v", served, described)
	}
}
