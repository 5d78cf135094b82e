package portal

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/store"
)

// Cookie names. Over https they carry the __Host- prefix, which browsers accept only
// with Secure, Path=/ and no Domain: no subdomain can plant or overwrite them.
const (
	sessionCookie = "mxdesk_session"
	mfaCookie     = "mxdesk_mfa"    // a sign-in waiting for its second factor
	signupCookie  = "mxdesk_signup" // ties a sign-up's password to this browser
)

func (s *Server) cookieName(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

// setCookie sets an HttpOnly, SameSite=Lax cookie; maxAge 0 makes it last the browser
// session (the server decides when the session ends), negative deletes it.
func (s *Server) setCookie(w http.ResponseWriter, base, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: s.cookieName(base), Value: value, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode}
	switch {
	case maxAge < 0:
		c.MaxAge, c.Value = -1, ""
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

func (s *Server) cookie(r *http.Request, base string) string {
	c, err := r.Cookie(s.cookieName(base))
	if err != nil {
		return ""
	}
	return c.Value
}

// current returns the signed-in session, or nil. A stale cookie is simply no session.
func (s *Server) current(r *http.Request) *account.Current {
	if s.accounts == nil {
		return nil
	}
	id := s.cookie(r, sessionCookie)
	if id == "" {
		return nil
	}
	cur, err := s.accounts.Session(r.Context(), id)
	if err != nil {
		if !errors.Is(err, account.ErrNoSession) {
			s.log.Error("portal: session lookup", "err", err)
		}
		return nil
	}
	return cur
}

// signedIn wraps a handler for signed-in customers; anyone else goes to /login and
// comes back after it.
func (s *Server) signedIn(h func(w http.ResponseWriter, r *http.Request, cur *account.Current)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cur := s.current(r)
		if cur == nil {
			if s.cookie(r, sessionCookie) != "" {
				s.setCookie(w, sessionCookie, "", -1)
			}
			next := r.URL.Path
			if r.Method != http.MethodGet {
				next = "/account"
			} else if r.URL.RawQuery != "" {
				next += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		h(w, r, cur)
	}
}

// safeNext keeps a redirect target on this site: a path, never "//host" or "/\host",
// which browsers read as another host.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n\\") || len(next) > 2000 {
		return "/"
	}
	return next
}

// pageLang is the account's language, else the browser's, else English.
func (s *Server) pageLang(r *http.Request, cur *account.Current) string {
	if cur != nil {
		if _, ok := accountTexts[cur.Account.Language]; ok {
			return cur.Account.Language
		}
	}
	return lang(r, "")
}

// client describes the request for the account service.
func (s *Server) client(r *http.Request, l string) account.Client {
	return account.Client{IP: s.clientIP(r), UserAgent: r.UserAgent(), Lang: l}
}

// parseForm reads a POSTed form; false means a page saying why was already written.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request, l string) bool {
	if err := r.ParseForm(); err != nil {
		t := accountTexts[l]
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.message(w, http.StatusRequestEntityTooLarge, l, t["too_large_title"], t["too_large"])
			return false
		}
		s.message(w, http.StatusBadRequest, l, t["bad_form_title"], t["bad_form"])
		return false
	}
	return true
}

// startSession sets the cookie of a sign-in: the session, or the half-done sign-in
// waiting for the second factor. Any earlier session cookie is replaced.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, in *account.SignIn) {
	if old := s.cookie(r, sessionCookie); old != "" {
		if err := s.accounts.SignOut(r.Context(), old); err != nil {
			s.log.Warn("portal: end replaced session", "err", err)
		}
	}
	if in.Stage == store.SessionFull {
		s.setCookie(w, sessionCookie, in.SessionID, 0)
		s.setCookie(w, mfaCookie, "", -1)
		return
	}
	s.setCookie(w, sessionCookie, "", -1)
	s.setCookie(w, mfaCookie, in.SessionID, account.MFATTL)
}
