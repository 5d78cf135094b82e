package portal

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/store"
)

// refusal turns an account error into a status and the words for the customer; ok is
// false for errors that are not the customer's (those get the "went wrong" page).
func refusal(t map[string]string, err error) (status int, text string, ok bool) {
	var pe *account.PasswordError
	switch {
	case errors.As(err, &pe):
		return http.StatusBadRequest, t["pw_"+pe.Reason], true
	case errors.Is(err, account.ErrBadAddress):
		return http.StatusBadRequest, t["bad_address"], true
	case errors.Is(err, account.ErrBadCredentials):
		return http.StatusUnauthorized, t["bad_credentials"], true
	case errors.Is(err, account.ErrNotVerified):
		return http.StatusForbidden, t["not_verified"], true
	case errors.Is(err, account.ErrCodeFormat):
		return http.StatusBadRequest, t["code_format"], true
	case errors.Is(err, account.ErrBadCode):
		return http.StatusUnauthorized, t["code_bad"], true
	case errors.Is(err, account.ErrCodeUsed):
		return http.StatusUnauthorized, t["code_used"], true
	case errors.Is(err, account.ErrWrongPassword):
		return http.StatusUnauthorized, t["wrong_password"], true
	case errors.Is(err, account.ErrTokenInvalid):
		return http.StatusNotFound, t["link_invalid"], true
	case errors.Is(err, account.ErrTokenExpired):
		return http.StatusGone, t["link_expired"], true
	case errors.Is(err, account.ErrTokenUsed):
		return http.StatusGone, t["link_used"], true
	case errors.Is(err, account.ErrNoPendingTOTP):
		return http.StatusConflict, t["twofa_restart"], true
	}
	return 0, "", false
}

// throttled answers 429 with Retry-After and a page that says how long to wait.
func (s *Server) throttled(w http.ResponseWriter, l string, err error) bool {
	var te *account.ThrottledError
	if !errors.As(err, &te) {
		return false
	}
	secs := int(te.RetryAfter / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	t := accountTexts[l]
	wait := fmt.Sprintf(t["seconds"], secs)
	if secs >= 120 {
		wait = fmt.Sprintf(t["minutes"], (secs+59)/60)
	}
	s.message(w, http.StatusTooManyRequests, l, t["throttled_title"], fmt.Sprintf(t["throttled"], wait))
	return true
}

// --- sign-up and the emailed-link requests ---------------------------------------------

func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) {
	l := s.pageLang(r, nil)
	s.render(w, http.StatusOK, "signup", page{Lang: l, Title: accountTexts[l]["signup_title"]})
}

// signup mails the verification link. The chosen password waits with the link, tied to
// this browser by the signup cookie (account.Service.RequestMail says why).
func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	l := s.pageLang(r, nil)
	if !s.parseForm(w, r, l) {
		return
	}
	t := accountTexts[l]
	email := r.PostFormValue("email")
	binding := s.cookie(r, signupCookie)
	if len(binding) != 43 {
		binding = account.NewBinding()
	}
	err := s.accounts.RequestMail(r.Context(), s.client(r, l), store.TokenVerify, email, r.PostFormValue("password"), binding)
	if err == nil {
		s.setCookie(w, signupCookie, binding, account.VerifyTTL)
		s.checkMail(w, l, "check_signup", email, account.VerifyTTL)
		return
	}
	if s.throttled(w, l, err) {
		return
	}
	if status, text, ok := refusal(t, err); ok {
		s.render(w, status, "signup", page{Lang: l, Title: t["signup_title"], Form: form{Email: email, Error: text}})
		return
	}
	s.fail(w, l, err)
}

// checkMail is the answer to every mail request, the same whether the address has an
// account or not.
func (s *Server) checkMail(w http.ResponseWriter, l, key, email string, ttl time.Duration) {
	t := accountTexts[l]
	addr, err := account.ParseAddress(email)
	if err != nil {
		addr = email
	}
	s.message(w, http.StatusOK, l, t["check_title"], fmt.Sprintf(t[key], addr, int(ttl/time.Minute)))
}

// requestKinds are the two "email me a link" forms.
var requestKinds = map[string]struct {
	purpose, title, text, button, check string
	ttl                                 time.Duration
}{
	"/login/link": {store.TokenSignIn, "link_title", "link_text", "link_button", "check_link", account.SignInTTL},
	"/reset":      {store.TokenReset, "reset_title", "reset_text", "reset_button", "check_reset", account.ResetTTL},
}

func (s *Server) requestPage(w http.ResponseWriter, r *http.Request, status int, f form) {
	l := s.pageLang(r, nil)
	t := accountTexts[l]
	k := requestKinds[r.URL.Path]
	f.Action = r.URL.Path
	s.render(w, status, "request", page{Lang: l, Title: t[k.title], Heading: t[k.title], Text: t[k.text], Button: t[k.button], Form: f})
}

func (s *Server) requestForm(w http.ResponseWriter, r *http.Request) {
	s.requestPage(w, r, http.StatusOK, form{})
}

// request mails a sign-in or reset link.
func (s *Server) request(w http.ResponseWriter, r *http.Request) {
	l := s.pageLang(r, nil)
	if !s.parseForm(w, r, l) {
		return
	}
	k := requestKinds[r.URL.Path]
	email := r.PostFormValue("email")
	err := s.accounts.RequestMail(r.Context(), s.client(r, l), k.purpose, email, "", "")
	if err == nil {
		s.checkMail(w, l, k.check, email, k.ttl)
		return
	}
	if s.throttled(w, l, err) {
		return
	}
	if status, text, ok := refusal(accountTexts[l], err); ok {
		s.requestPage(w, r, status, form{Email: email, Error: text})
		return
	}
	s.fail(w, l, err)
}

// --- the emailed links -------------------------------------------------------------

// linkPurpose tells the verify and sign-in links apart by their path.
func linkPurpose(r *http.Request) string {
	if len(r.URL.Path) > len(account.VerifyPath) && r.URL.Path[:len(account.VerifyPath)] == account.VerifyPath {
		return store.TokenVerify
	}
	return store.TokenSignIn
}

// checkLink looks at an emailed link without spending it; false means a page saying
// what is wrong with it was written. A link for another account than the one signed in
// here changes nothing: sign out first.
func (s *Server) checkLink(w http.ResponseWriter, r *http.Request, l, purpose string) (*account.Token, bool) {
	t := accountTexts[l]
	tok, err := s.accounts.PeekToken(r.Context(), r.PathValue("token"), purpose)
	if err != nil {
		if status, text, ok := refusal(t, err); ok {
			s.message(w, status, l, t["link_invalid_title"], text)
			return nil, false
		}
		s.fail(w, l, err)
		return nil, false
	}
	if cur := s.current(r); cur != nil && cur.Account.ID != tok.AccountID {
		s.message(w, http.StatusConflict, l, t["link_invalid_title"], t["link_other"])
		return nil, false
	}
	return tok, true
}

// linkPage shows a verify or sign-in link's button. Opening the link changes nothing:
// mail scanners open links too.
func (s *Server) linkPage(w http.ResponseWriter, r *http.Request) {
	l := s.pageLang(r, nil)
	t := accountTexts[l]
	purpose := linkPurpose(r)
	tok, ok := s.checkLink(w, r, l, purpose)
	if !ok {
		return
	}
	p := page{Lang: l, Title: t["confirm_"+purpose+"_title"], Heading: t["confirm_"+purpose+"_title"],
		Text: fmt.Sprintf(t["confirm_"+purpose+"_text"], tok.Email), Button: t["confirm_"+purpose+"_button"]}
	s.render(w, http.StatusOK, "confirm", p)
}

// useLink spends a verify or sign-in link and signs in.
func (s *Server) useLink(w http.ResponseWriter, r *http.Request) {
	l := s.pageLang(r, nil)
	t := accountTexts[l]
	purpose := linkPurpose(r)
	if _, ok := s.checkLink(w, r, l, purpose); !ok {
		return
	}
	in, err := s.accounts.UseLink(r.Context(), s.client(r, l), r.PathValue("token"), purpose, s.cookie(r, signupCookie))
	if err != nil {
		if status, text, ok := refusal(t, err); ok {
			s.message(w, status, l, t["link_invalid_title"], text)
			return
		}
		s.fail(w, l, err)
		return
	}
	if purpose == store.TokenVerify {
		s.setCookie(w, signupCookie, "", -1)
	}
	s.startSession(w, r, in)
	switch {
	case in.Stage != store.SessionFull:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case purpose == store.TokenVerify && in.NeedPassword:
		// Signed up without a password: offer to set one (emailed links keep working).
		http.Redirect(w, r, "/account?done=welcome_nopw", http.StatusSeeOther)
	case purpose == store.TokenVerify:
		http.Redirect(w, r, "/account?done=welcome", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}

// --- reset ---------------------------------------------------------------------------

func (s *Server) resetForm(w http.ResponseWriter, r *http.Request) {
	l := s.pageLang(r, nil)
	tok, ok := s.checkLink(w, r, l, store.TokenReset)
	if !ok {
		return
	}
	s.render(w, http.StatusOK, "newpassword", page{Lang: l, Title: accountTexts[l]["newpw_title"], Form: form{Email: tok.Email}})
}

// reset sets the new password. It signs out every session; with 2FA on the customer
// still gives a code before being signed in.
func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	l := s.pageLang(r, nil)
	if !s.parseForm(w, r, l) {
		return
	}
	t := accountTexts[l]
	tok, ok := s.checkLink(w, r, l, store.TokenReset)
	if !ok {
		return
	}
	in, err := s.accounts.Reset(r.Context(), s.client(r, l), r.PathValue("token"), r.PostFormValue("new_password"))
	if err != nil {
		var pe *account.PasswordError
		if errors.As(err, &pe) {
			s.render(w, http.StatusBadRequest, "newpassword", page{Lang: l, Title: t["newpw_title"],
				Form: form{Email: tok.Email, Error: t["pw_"+pe.Reason]}})
			return
		}
		if status, text, ok := refusal(t, err); ok {
			s.message(w, status, l, t["link_invalid_title"], text)
			return
		}
		s.fail(w, l, err)
		return
	}
	s.startSession(w, r, in)
	if in.Stage != store.SessionFull {
		http.Redirect(w, r, "/login?next=%2Faccount%3Fdone%3Dreset", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/account?done=reset", http.StatusSeeOther)
}

// --- sign-in with a password and the second factor ---------------------------------------

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	l := s.pageLang(r, nil)
	next := safeNext(r.URL.Query().Get("next"))
	if s.current(r) != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if _, err := s.accounts.PendingMFA(r.Context(), s.cookie(r, mfaCookie)); err == nil {
		s.render(w, http.StatusOK, "code", page{Lang: l, Title: accountTexts[l]["code_title"], Form: form{Next: next}})
		return
	}
	s.render(w, http.StatusOK, "login", page{Lang: l, Title: accountTexts[l]["login_title"], Form: form{Next: next}})
}

// login takes the address and password, then (with 2FA on) the code: either in the
// same form (field code beside the password) or in a second step that posts code alone.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	l := s.pageLang(r, nil)
	if !s.parseForm(w, r, l) {
		return
	}
	t := accountTexts[l]
	ctx := r.Context()
	c := s.client(r, l)
	next := safeNext(r.PostFormValue("next"))
	email, password, code := r.PostFormValue("email"), r.PostFormValue("password"), r.PostFormValue("code")
	if password == "" && email == "" && code != "" {
		s.secondFactor(w, r, l, next, s.cookie(r, mfaCookie), code)
		return
	}
	in, err := s.accounts.SignInPassword(ctx, c, email, password)
	if err != nil {
		if s.throttled(w, l, err) {
			return
		}
		if status, text, ok := refusal(t, err); ok {
			s.render(w, status, "login", page{Lang: l, Title: t["login_title"], Form: form{Email: email, Next: next, Error: text}})
			return
		}
		s.fail(w, l, err)
		return
	}
	if in.Stage == store.SessionFull {
		s.startSession(w, r, in)
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if code != "" {
		s.secondFactor(w, r, l, next, in.SessionID, code)
		return
	}
	s.startSession(w, r, in)
	s.render(w, http.StatusOK, "code", page{Lang: l, Title: t["code_title"], Form: form{Next: next}})
}

func (s *Server) secondFactor(w http.ResponseWriter, r *http.Request, l, next, pending, code string) {
	t := accountTexts[l]
	in, err := s.accounts.CompleteMFA(r.Context(), s.client(r, l), pending, code)
	if err != nil {
		if s.throttled(w, l, err) {
			return
		}
		if errors.Is(err, account.ErrNoSession) {
			s.render(w, http.StatusUnauthorized, "login", page{Lang: l, Title: t["login_title"], Form: form{Next: next, Error: t["mfa_expired"]}})
			return
		}
		if status, text, ok := refusal(t, err); ok {
			// The pending sign-in stays: keep its cookie, ask again.
			s.setCookie(w, mfaCookie, pending, account.MFATTL)
			s.render(w, status, "code", page{Lang: l, Title: t["code_title"], Form: form{Next: next, Error: text}})
			return
		}
		s.fail(w, l, err)
		return
	}
	s.startSession(w, r, in)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session (and a half-done sign-in) here.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	for _, c := range []string{sessionCookie, mfaCookie} {
		if id := s.cookie(r, c); id != "" {
			if err := s.accounts.SignOut(r.Context(), id); err != nil {
				s.fail(w, s.pageLang(r, nil), err)
				return
			}
		}
		s.setCookie(w, c, "", -1)
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
