package portal

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
)

// kbSearchJSON is the answer of GET /search?format=json, the type-ahead's.
type kbSearchJSON struct {
	Query    string         `json:"query"`
	Articles []kbSearchItem `json:"articles"`
}

type kbSearchItem struct {
	Slug     string `json:"slug"`
	Title    string `json:"title"`
	Summary  string `json:"summary"`
	Category string `json:"category"`
	URL      string `json:"url"`
}

// search serves GET /search?q=: published articles in every language, the visitor's
// first, best first, with the matching words highlighted; for a signed-in customer also
// their own tickets whose subject or messages hold the words. format=json answers the
// type-ahead (articles only).
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cur := s.current(r)
	l := s.pageLang(r, cur)
	t := s.kb.texts[l]
	asJSON := r.URL.Query().Get("format") == "json"
	if !s.kbAllowed(r, cur) {
		if asJSON {
			kbJSONError(w, http.StatusNotFound, "not found")
			return
		}
		s.message(w, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
		return
	}
	q := r.URL.Query().Get("q")
	if !utf8.ValidString(q) {
		q = strings.ToValidUTF8(q, " ")
	}
	limit := 20
	if asJSON {
		limit = 5
	}
	hits, err := s.st.SearchKB(ctx, store.KBQuery{Text: q, Lang: s.kbLang(r, cur), Prefix: true, Limit: limit, Snippets: !asJSON})
	if err != nil {
		if asJSON {
			s.log.Error("portal: search", "err", err)
			kbJSONError(w, http.StatusInternalServerError, "search failed")
			return
		}
		s.fail(w, l, err)
		return
	}
	if asJSON {
		out := kbSearchJSON{Query: q, Articles: []kbSearchItem{}}
		for _, h := range hits {
			out.Articles = append(out.Articles, kbSearchItem{Slug: h.Slug, Title: h.Title, Summary: h.Summary,
				Category: h.Category, URL: "/kb/" + h.Slug})
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(out)
		return
	}
	shown := q
	if len(shown) > 500 {
		shown = strings.ToValidUTF8(shown[:500], "")
	}
	v := kbView{Query: shown, Searched: strings.TrimSpace(q) != ""}
	for _, h := range hits {
		// TitleHTML and SnippetHTML are escaped by store, with only <mark> added.
		v.Hits = append(v.Hits, kbHit{Slug: h.Slug, Category: h.Category, Summary: h.Summary,
			Title: template.HTML(h.TitleHTML), Snippet: template.HTML(h.SnippetHTML)})
	}
	if v.Tickets, err = s.searchOwnTickets(r, cur, q, l); err != nil {
		s.fail(w, l, err)
		return
	}
	s.kbRender(w, cur, http.StatusOK, "search", l, t["search"], v)
}

// searchOwnTickets finds a signed-in customer's own tickets with all the words (up to
// five, stop words left out) in the subject or a message they can see: the portal's
// ticket search, scoped to the customer like every ticket query.
func (s *Server) searchOwnTickets(r *http.Request, cur *account.Current, q, l string) ([]kbTicketHit, error) {
	if cur == nil || s.tk == nil {
		return nil, nil
	}
	words := store.KBTerms(q)
	if len(words) == 0 {
		return nil, nil
	}
	words = words[:min(len(words), 5)]
	rows, _, err := store.CustomerTickets(r.Context(), s.st.DB, cur.Account.ContactID, cur.Account.ID,
		store.CustomerFilter{Search: strings.Join(words, " "), SortByUpdated: true, Limit: 10}, visibleKinds)
	if err != nil {
		return nil, err
	}
	var out []kbTicketHit
	for _, row := range rows {
		out = append(out, kbTicketHit{ID: row.ID, Subject: row.Subject, Status: outbound.StatusName(l, row.Status)})
	}
	return out, nil
}

func kbJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
