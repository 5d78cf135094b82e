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
	opts KBOptions
	tmpl map[string]*template.Template
}

// ConfigureKB sets the knowledge-base options; until it is called the pages are public
// and English first.
func (s *Server) ConfigureKB(o KBOptions) {
	if o.DefaultLang == "" {
		o.DefaultLang = "en"
	}
	s.kb.opts = o
}

// kbPage is what the knowledge-base templates see: the common page plus their own.
type kbPage struct {
	page
	T          map[string]string
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
	Searched   bool
}

// kbHit is one search result, with the engine's highlighting (escaped HTML).
type kbHit struct {
	Slug, Category, Summary string
	Title, Snippet          template.HTML
}

// kbRoutes registers the knowledge base's pages and parses their templates.
func (s *Server) kbRoutes(mux *http.ServeMux) error {
	s.kb.opts = KBOptions{Public: true, DefaultLang: "en"}
	s.kb.tmpl = map[string]*template.Template{}
	for _, name := range []string{"kb_home", "kb_index", "kb_article", "search"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/kb_parts.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("portal templates: %w", err)
		}
		s.kb.tmpl[name] = t
	}
	mux.HandleFunc("GET /kb", s.kbIndex)
	mux.HandleFunc("GET /kb/{slug}", s.kbArticle)
	mux.HandleFunc("GET /kb/{slug}/img/{name...}", s.kbImage)
	// Cross-origin POSTs are refused, so no other site can vote in a visitor's name.
	mux.Handle("POST /kb/{slug}/vote", http.NewCrossOriginProtection().Handler(http.HandlerFunc(s.kbVote)))
	mux.HandleFunc("GET /search", s.search)
	mux.HandleFunc("GET /static/kb-suggest.js", s.kbScript)
	return nil
}

// kbAllowed says whether r may see the knowledge base. Hook for customer sign-in: with
// [kb] public = false, a signed-in customer is to be let in here.
func (s *Server) kbAllowed(r *http.Request) bool { return s.kb.opts.Public }

// kbRender renders a knowledge-base page. Its policy adds the one script the portal
// has, the type-ahead, from this origin only.
func (s *Server) kbRender(w http.ResponseWriter, status int, name string, p kbPage) {
	p.Color, p.Brand = s.brand.Color, s.brand.Name
	if p.T == nil {
		p.T = kbTexts[p.Lang]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'")
	w.WriteHeader(status)
	if err := s.kb.tmpl[name].ExecuteTemplate(w, "layout", p); err != nil {
		s.log.Error("portal: render", "page", name, "err", err)
	}
}

// kbMessage answers with a short page that still has the search box.
func (s *Server) kbMessage(w http.ResponseWriter, status int, l, title, text string) {
	s.kbRender(w, status, "kb_index", kbPage{page: page{Lang: l, Title: title, Heading: title, Text: text}})
}

// kbLang is the visitor's language for ranking: the first language their browser asks
// for, else the configured default.
func (s *Server) kbLang(r *http.Request) string {
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

// kbHome is the home page with the search box, when the knowledge base is visible. It
// reports whether it answered.
func (s *Server) kbHome(w http.ResponseWriter, r *http.Request) bool {
	if !s.kbAllowed(r) {
		return false
	}
	l := lang(r, "")
	popular, err := store.ListKB(r.Context(), s.st.DB, store.KBFilter{Status: store.KBPublished, Order: store.KBByViews, Limit: 5})
	if err != nil {
		s.fail(w, l, err)
		return true
	}
	s.kbRender(w, http.StatusOK, "kb_home", kbPage{page: page{Lang: l, Title: s.brand.Name, Heading: s.brand.Name,
		Text: kbTexts[l]["home"]}, Popular: popular})
	return true
}

// kbIndex serves GET /kb: categories with counts, popular and recently updated articles,
// or one category's articles (?category=).
func (s *Server) kbIndex(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := lang(r, "")
	t := kbTexts[l]
	if !s.kbAllowed(r) {
		s.message(w, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
		return
	}
	p := kbPage{page: page{Lang: l, Title: t["kb"], Heading: t["kb"]}, Category: r.URL.Query().Get("category")}
	var err error
	if p.Categories, err = store.KBCategories(ctx, s.st.DB); err != nil {
		s.fail(w, l, err)
		return
	}
	if p.Category != "" {
		p.Title, p.Heading = p.Category, p.Category
		p.List, err = store.ListKB(ctx, s.st.DB, store.KBFilter{Status: store.KBPublished, Category: p.Category})
		if err == nil && len(p.List) == 0 {
			s.kbMessage(w, http.StatusNotFound, l, t["not_found_title"], t["no_category"])
			return
		}
	} else {
		p.Popular, err = store.ListKB(ctx, s.st.DB, store.KBFilter{Status: store.KBPublished, Order: store.KBByViews, Limit: 5})
		if err == nil {
			p.Recent, err = store.ListKB(ctx, s.st.DB, store.KBFilter{Status: store.KBPublished, Order: store.KBByUpdated, Limit: 5})
		}
	}
	if err != nil {
		s.fail(w, l, err)
		return
	}
	s.kbRender(w, http.StatusOK, "kb_index", p)
}

// kbArticle serves GET /kb/{slug}: the article, counted as a view.
func (s *Server) kbArticle(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := lang(r, "")
	t := kbTexts[l]
	if !s.kbAllowed(r) {
		s.message(w, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
		return
	}
	a, err := store.KBArticleBySlug(ctx, s.st.DB, r.PathValue("slug"))
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && a.Status != store.KBPublished && a.Status != store.KBArchived:
		s.kbMessage(w, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
		return
	case err != nil:
		s.fail(w, l, err)
		return
	case a.Status == store.KBArchived:
		s.kbMessage(w, http.StatusGone, l, a.Title, t["archived"])
		return
	}
	// The page a vote redirects to is the same visit, not another view.
	if !r.URL.Query().Has("voted") {
		if err := store.AddKBView(ctx, s.st.DB, a.ID); err != nil {
			s.log.Warn("portal: count kb view", "slug", a.Slug, "err", err)
		}
	}
	p := kbPage{page: page{Lang: l, Title: a.Title, Heading: a.Title}, Article: a, Body: template.HTML(a.BodyHTML)}
	if p.Related, err = store.KBRelated(ctx, s.st.DB, a, 5); err != nil {
		s.fail(w, l, err)
		return
	}
	if v := visitor(w, r, true); v != "" {
		vote, err := store.KBVoteOf(ctx, s.st.DB, a.ID, v)
		if err != nil {
			s.fail(w, l, err)
			return
		}
		if vote != nil {
			p.Vote = map[bool]string{true: "yes", false: "no"}[*vote]
		}
	}
	s.kbRender(w, http.StatusOK, "kb_article", p)
}

// kbVote serves POST /kb/{slug}/vote: vote=yes|no, one per visitor and article (a
// changed mind replaces the vote), then back to the article, which shows the vote.
func (s *Server) kbVote(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	l := lang(r, "")
	t := kbTexts[l]
	if !s.kbAllowed(r) {
		s.message(w, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
		return
	}
	var helpful bool
	switch r.PostFormValue("vote") {
	case "yes":
		helpful = true
	case "no":
	default:
		s.kbMessage(w, http.StatusBadRequest, l, t["vote_bad_title"], t["vote_bad"])
		return
	}
	v := visitor(w, r, false)
	if v == "" {
		// The article page sets the cookie; a vote without it comes from a browser that
		// refuses cookies, or from no browser. Counting it would let anyone vote twice.
		s.kbMessage(w, http.StatusBadRequest, l, t["vote_cookie_title"], t["vote_cookie"])
		return
	}
	a, err := store.KBArticleBySlug(ctx, s.st.DB, r.PathValue("slug"))
	if errors.Is(err, store.ErrNotFound) {
		s.kbMessage(w, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
		return
	}
	if err != nil {
		s.fail(w, l, err)
		return
	}
	if _, _, err := s.st.VoteKB(ctx, a.ID, v, helpful); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.kbMessage(w, http.StatusGone, l, a.Title, t["vote_archived"])
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
	l := lang(r, "")
	t := kbTexts[l]
	if !s.kbAllowed(r) {
		s.message(w, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
		return
	}
	sum, ctype, err := store.KBImage(ctx, s.st.DB, r.PathValue("slug"), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		s.kbMessage(w, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
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
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(data)
}
