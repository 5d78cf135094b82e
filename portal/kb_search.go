package portal

import (
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/mxdesk/mxdesk/store"
)

//go:embed static/kb-suggest.js
var kbStatic embed.FS

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
// first, best first, with the matching words highlighted. format=json answers the
// type-ahead of the new-ticket form and the search box.
//
// Signed-in customers are to find their own tickets here too (subject and messages);
// that joins when the portal has sessions: the results then get a second list.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := lang(r, "")
	t := kbTexts[l]
	asJSON := r.URL.Query().Get("format") == "json"
	if !s.kbAllowed(r) {
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
	hits, err := s.st.SearchKB(ctx, store.KBQuery{Text: q, Lang: s.kbLang(r), Prefix: true, Limit: limit, Snippets: !asJSON})
	if err != nil {
		s.log.Error("portal: search", "err", err)
		if asJSON {
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
		w.Header().Set("X-Content-Type-Options", "nosniff")
		json.NewEncoder(w).Encode(out)
		return
	}
	shown := q
	if len(shown) > 200 {
		shown = strings.ToValidUTF8(shown[:200], "") + "…"
	}
	p := kbPage{page: page{Lang: l, Title: t["search"], Heading: t["search"]}, Query: shown, Searched: strings.TrimSpace(q) != ""}
	for _, h := range hits {
		// TitleHTML and SnippetHTML are escaped by store, with only <mark> added.
		p.Hits = append(p.Hits, kbHit{Slug: h.Slug, Category: h.Category, Summary: h.Summary,
			Title: template.HTML(h.TitleHTML), Snippet: template.HTML(h.SnippetHTML)})
	}
	s.kbRender(w, http.StatusOK, "search", p)
}

func kbJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// kbScript serves the type-ahead: any input with data-kb-suggest gets a list of
// matching articles under it while the visitor types. Without JavaScript the forms work
// as they are.
func (s *Server) kbScript(w http.ResponseWriter, r *http.Request) {
	b, err := kbStatic.ReadFile("static/kb-suggest.js")
	if err != nil {
		s.fail(w, "en", err)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}
