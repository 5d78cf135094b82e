package portal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/store"
)

// KBOptions configure the knowledge-base pages.
type KBOptions struct {
	// Public shows the pages to everyone. Without it they are hidden until customer
	// sign-in exists, which will show them to signed-in customers.
	Public bool
	// DefaultLang is the language ranked first for a visitor whose browser names none.
	DefaultLang string
}

// kbSettings is the knowledge base's part of the Server.
type kbSettings struct {
	opts  KBOptions
	texts map[string]map[string]string // the portal's strings and the knowledge base's, per language
}

// ConfigureKB sets the knowledge-base options; until it is called the pages are public
// and English first.
func (s *Server) ConfigureKB(o KBOptions) {
	if o.DefaultLang == "" {
		o.DefaultLang = "en"
	}
	s.kb.opts = o
}

// kbView is what the knowledge-base templates see as the page's Data.
type kbView struct {
	Query      string
	Categories []store.KBCategory
	Category   string
	Popular    []store.KBArticle
	Recent     []store.KBArticle
	List       []store.KBArticle
	Article    *store.KBArticle
	Body       template.HTML
	Related    []store.KBArticle
	Vote       string // the visitor's vote: "yes", "no" or ""
	Hits       []kbHit
	Tickets    []kbTicketHit // a signed-in customer's own tickets that match
	Searched   bool
}

// kbHit is one search result, with the engine's highlighting (escaped HTML).
type kbHit struct {
	Slug, Category, Summary string
	Title, Snippet          template.HTML
}

// kbTicketHit is one of the customer's own tickets found by the search.
type kbTicketHit struct {
	ID              int64
	Subject, Status string
}

// kbViews are the knowledge base's page templates.
var kbViews = []string{"kb_index", "kb_article", "search"}

// kbRoutes are the knowledge base's routes (listed with the others in routes()). The
// vote is a POST, so the portal's cross-origin check guards it.
func (s *Server) kbRoutes() []route {
	return []route{
		{"GET /kb", s.kbIndex},
		{"GET /kb/{slug}", s.kbArticle},
		{"GET /kb/{slug}/img/{name...}", s.kbImage},
		{"POST /kb/{slug}/vote", s.kbVote},
		{"GET /search", s.search},
		{"GET /static/kb-suggest.js", s.kbStatic("kb-suggest.js", "text/javascript; charset=utf-8")},
		{"GET /static/kb.css", s.kbStatic("kb.css", "text/css; charset=utf-8")},
	}
}

// kbTemplates parses the knowledge base's views with the portal's layout and partials.
func (s *Server) kbTemplates() error {
	if s.kb.opts.DefaultLang == "" {
		s.kb.opts = KBOptions{Public: true, DefaultLang: "en"}
	}
	for _, name := range kbViews {
		t, err := template.ParseFS(templateFS, append([]string{"templates/" + name + ".html", "templates/kb_parts.html"}, partials...)...)
		if err != nil {
			return fmt.Errorf("portal templates: %w", err)
		}
		s.tmpl[name] = t
	}
	s.kb.texts = map[string]map[string]string{}
	for l, kt := range kbTexts {
		m := map[string]string{}
		for k, v := range accountTexts[l] {
			m[k] = v
		}
		for k, v := range kt {
			m[k] = v
		}
		s.kb.texts[l] = m
	}
	return nil
}

// kbAllowed says whether r may see the knowledge base: everyone, or with [kb] public =
// false only signed-in customers.
func (s *Server) kbAllowed(r *http.Request, cur *account.Current) bool {
	return s.kb.opts.Public || cur != nil
}

// kbVisit starts a knowledge-base page: the visitor, their language and its texts. false
// means the knowledge base is not for them (private, signed out) and a 404 page is written.
func (s *Server) kbVisit(w http.ResponseWriter, r *http.Request) (*account.Current, string, map[string]string, bool) {
	cur := s.current(r)
	l := s.pageLang(r, cur)
	t := s.kb.texts[l]
	if !s.kbAllowed(r, cur) {
		s.message(w, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
		return nil, "", nil, false
	}
	return cur, l, t, true
}

// kbScripts is added to the portal's policy (s.kbCSP) for the one script it has, the
// type-ahead, and its requests, from this origin only.
const kbScripts = "; script-src 'self'; connect-src 'self'"

// kbScriptViews are the portal's other pages that carry the type-ahead: the new-ticket
// form suggests articles while the subject is typed.
var kbScriptViews = map[string]bool{"newticket": true}

// kbRender renders a knowledge-base page through the portal's render, with the header's
// signed-in state.
func (s *Server) kbRender(w http.ResponseWriter, cur *account.Current, status int, name, l, title string, v kbView) {
	p := page{Lang: l, Title: title, Heading: title, T: s.kb.texts[l], Data: v}
	if cur != nil {
		p.Signed = cur.Account.Email
	}
	w.Header().Set("Content-Security-Policy", s.kbCSP)
	s.render(w, status, name, p)
}

// kbMessage answers with a short page that still has the search box.
func (s *Server) kbMessage(w http.ResponseWriter, cur *account.Current, status int, l, title, text string) {
	p := page{Lang: l, Title: title, Heading: title, Text: text, T: s.kb.texts[l], Data: kbView{}}
	if cur != nil {
		p.Signed = cur.Account.Email
	}
	w.Header().Set("Content-Security-Policy", s.kbCSP)
	s.render(w, status, "kb_index", p)
}

// kbLang is the visitor's language for ranking: the signed-in customer's, else the
// first language their browser asks for, else the configured default. Any language
// counts here, not only those the portal's pages are written in.
func (s *Server) kbLang(r *http.Request, cur *account.Current) string {
	if cur != nil && cur.Account.Language != "" {
		return cur.Account.Language
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag, _, _ = strings.Cut(strings.ToLower(tag), "-")
		if len(tag) >= 2 && len(tag) <= 3 && tag != "*" {
			return tag
		}
	}
	return s.kb.opts.DefaultLang
}

// visitorCookie names the random id that makes votes one per visitor. Only its hash is
// stored.
const visitorCookie = "mxdesk_visitor"

// visitor returns the hash of the visitor's id, setting a new id when there is none and
// set is true. "" means the visitor has no id.
func visitor(w http.ResponseWriter, r *http.Request, set bool) string {
	if c, err := r.Cookie(visitorCookie); err == nil && len(c.Value) == 32 {
		if _, err := hex.DecodeString(c.Value); err == nil {
			sum := sha256.Sum256([]byte(c.Value))
			return hex.EncodeToString(sum[:])
		}
	}
	if !set {
		return ""
	}
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: visitorCookie, Value: id, Path: "/kb", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// kbStatic serves one of the knowledge base's static files.
func (s *Server) kbStatic(name, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := templateFS.ReadFile("static/" + name)
		if err != nil {
			s.fail(w, "en", err)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(b)
	}
}

// kbIndex serves GET /kb: categories with counts, popular and recently updated articles,
// or one category's articles (?category=).
func (s *Server) kbIndex(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cur, l, t, ok := s.kbVisit(w, r)
	if !ok {
		return
	}
	v := kbView{Category: r.URL.Query().Get("category")}
	title := t["kb"]
	var err error
	if v.Categories, err = store.KBCategories(ctx, s.st.DB); err != nil {
		s.fail(w, l, err)
		return
	}
	if v.Category != "" {
		title = v.Category
		v.List, err = store.ListKB(ctx, s.st.DB, store.KBFilter{Status: store.KBPublished, Category: v.Category})
		if err == nil && len(v.List) == 0 {
			s.kbMessage(w, cur, http.StatusNotFound, l, t["not_found_title"], t["no_category"])
			return
		}
	} else {
		v.Popular, err = store.ListKB(ctx, s.st.DB, store.KBFilter{Status: store.KBPublished, Order: store.KBByViews, Limit: 5})
		if err == nil {
			v.Recent, err = store.ListKB(ctx, s.st.DB, store.KBFilter{Status: store.KBPublished, Order: store.KBByUpdated, Limit: 5})
		}
	}
	if err != nil {
		s.fail(w, l, err)
		return
	}
	s.kbRender(w, cur, http.StatusOK, "kb_index", l, title, v)
}

// kbArticle serves GET /kb/{slug}: the article, counted as a view.
func (s *Server) kbArticle(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cur, l, t, ok := s.kbVisit(w, r)
	if !ok {
		return
	}
	a, err := store.KBArticleBySlug(ctx, s.st.DB, r.PathValue("slug"))
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && a.Status != store.KBPublished && a.Status != store.KBArchived:
		s.kbMessage(w, cur, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
		return
	case err != nil:
		s.fail(w, l, err)
		return
	case a.Status == store.KBArchived:
		s.kbMessage(w, cur, http.StatusGone, l, a.Title, t["archived"])
		return
	}
	// The page a vote redirects to is the same visit, not another view.
	if !r.URL.Query().Has("voted") {
		if err := store.AddKBView(ctx, s.st.DB, a.ID); err != nil {
			s.log.Warn("portal: count kb view", "slug", a.Slug, "err", err)
		}
	}
	v := kbView{Article: a, Body: template.HTML(a.BodyHTML)}
	if v.Related, err = store.KBRelated(ctx, s.st.DB, a, 5); err != nil {
		s.fail(w, l, err)
		return
	}
	if id := visitor(w, r, true); id != "" {
		vote, err := store.KBVoteOf(ctx, s.st.DB, a.ID, id)
		if err != nil {
			s.fail(w, l, err)
			return
		}
		if vote != nil {
			v.Vote = map[bool]string{true: "yes", false: "no"}[*vote]
		}
	}
	s.kbRender(w, cur, http.StatusOK, "kb_article", l, a.Title, v)
}

// kbVote serves POST /kb/{slug}/vote: vote=yes|no, one per visitor and article (a
// changed mind replaces the vote), then back to the article, which shows the vote.
func (s *Server) kbVote(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cur, l, t, ok := s.kbVisit(w, r)
	if !ok {
		return
	}
	var helpful bool
	switch r.PostFormValue("vote") {
	case "yes":
		helpful = true
	case "no":
	default:
		s.kbMessage(w, cur, http.StatusBadRequest, l, t["vote_bad_title"], t["vote_bad"])
		return
	}
	id := visitor(w, r, false)
	if id == "" {
		// The article page sets the cookie; a vote without it comes from a browser that
		// refuses cookies, or from no browser. Counting it would let anyone vote twice.
		s.kbMessage(w, cur, http.StatusBadRequest, l, t["vote_cookie_title"], t["vote_cookie"])
		return
	}
	a, err := store.KBArticleBySlug(ctx, s.st.DB, r.PathValue("slug"))
	if errors.Is(err, store.ErrNotFound) {
		s.kbMessage(w, cur, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
		return
	}
	if err != nil {
		s.fail(w, l, err)
		return
	}
	if _, _, err := s.st.VoteKB(ctx, a.ID, id, helpful); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.kbMessage(w, cur, http.StatusGone, l, a.Title, t["vote_archived"])
			return
		}
		s.fail(w, l, err)
		return
	}
	http.Redirect(w, r, "/kb/"+a.Slug+"?voted=1#vote", http.StatusSeeOther)
}

// kbImage serves an image of an article: only images imported with it, inline, in a
// sandbox.
func (s *Server) kbImage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cur, l, t, ok := s.kbVisit(w, r)
	if !ok {
		return
	}
	sum, ctype, err := store.KBImage(ctx, s.st.DB, r.PathValue("slug"), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		s.kbMessage(w, cur, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
		return
	}
	if err != nil {
		s.fail(w, l, err)
		return
	}
	if r.Header.Get("If-None-Match") == `"`+sum+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	data, err := store.GetBlob(ctx, s.st.DB, sum)
	if err != nil {
		s.fail(w, l, err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("ETag", `"`+sum+`"`)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(data)
}
