package portal

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/mxdesk/mxdesk/account"
)

// accountView is what the account page shows.
type accountView struct {
	Email, Language   string
	HasPassword, TOTP bool
	Sessions          []sessionView
}

type sessionView struct {
	Current                      bool
	Agent, IP, Created, LastSeen string
}

// dones are the outcomes a POST redirects to /account with (?done=…): keys, never text
// from the request, so the page shows only its own words.
var dones = map[string]bool{"password": true, "language": true, "others": true, "reset": true, "welcome": true,
	"welcome_nopw": true, "twofa_off": true}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	s.renderAccount(w, r, cur, http.StatusOK, "")
}

func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, cur *account.Current, status int, errText string) {
	l := s.pageLang(r, cur)
	t := accountTexts[l]
	sessions, err := s.accounts.Sessions(r.Context(), cur)
	if err != nil {
		s.fail(w, l, err)
		return
	}
	v := accountView{Email: cur.Account.Email, Language: cur.Account.Language, HasPassword: cur.Account.PasswordHash != "",
		TOTP: cur.Account.TOTPEnabled}
	for _, se := range sessions {
		agent := se.UserAgent
		if agent == "" {
			agent = "?"
		}
		v.Sessions = append(v.Sessions, sessionView{Current: se.IDHash == cur.Session.IDHash, Agent: agent, IP: se.IP,
			Created: s.when(se.CreatedAt), LastSeen: s.when(se.LastSeenAt)})
	}
	p := page{Lang: l, Title: t["account_title"], Signed: cur.Account.Email, Data: v, Form: form{Error: errText}}
	if d := r.URL.Query().Get("done"); dones[d] && status == http.StatusOK {
		p.Flash = t["done_"+d]
	}
	s.render(w, status, "account", p)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	l := s.pageLang(r, cur)
	if !s.parseForm(w, r, l) {
		return
	}
	err := s.accounts.ChangePassword(r.Context(), s.client(r, l), cur, r.PostFormValue("password"), r.PostFormValue("new_password"))
	if err != nil {
		if s.throttled(w, l, err) {
			return
		}
		if status, text, ok := refusal(accountTexts[l], err); ok {
			s.renderAccount(w, r, cur, status, text)
			return
		}
		s.fail(w, l, err)
		return
	}
	http.Redirect(w, r, "/account?done=password", http.StatusSeeOther)
}

func (s *Server) changeLanguage(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	l := s.pageLang(r, cur)
	if !s.parseForm(w, r, l) {
		return
	}
	lang := r.PostFormValue("language")
	if _, ok := accountTexts[lang]; !ok && lang != "" {
		s.renderAccount(w, r, cur, http.StatusBadRequest, accountTexts[l]["bad_language"])
		return
	}
	if err := s.accounts.SetLanguage(r.Context(), cur, lang); err != nil {
		s.fail(w, l, err)
		return
	}
	http.Redirect(w, r, "/account?done=language", http.StatusSeeOther)
}

func (s *Server) signOutOthers(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	n, err := s.accounts.SignOutOthers(r.Context(), cur)
	if err != nil {
		s.fail(w, s.pageLang(r, cur), err)
		return
	}
	s.log.Info("portal: signed out everywhere else", "account", cur.Account.ID, "sessions", n)
	http.Redirect(w, r, "/account?done=others", http.StatusSeeOther)
}

// --- two-factor authentication ---------------------------------------------------------------

type twofaView struct {
	Email             string
	HasPassword       bool
	Enabled           bool
	QR                template.URL
	URI, Secret, Left string
	Codes             []string
}

func (s *Server) twofaPage(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	s.renderTwofa(w, r, cur, http.StatusOK, "", nil)
}

func (s *Server) renderTwofa(w http.ResponseWriter, r *http.Request, cur *account.Current, status int, errText string, codes []string) {
	l := s.pageLang(r, cur)
	t := accountTexts[l]
	v := twofaView{Email: cur.Account.Email, HasPassword: cur.Account.PasswordHash != "", Enabled: cur.Account.TOTPEnabled, Codes: codes}
	switch {
	case codes != nil:
	case cur.Account.TOTPEnabled:
		left, err := s.accounts.RecoveryCodesLeft(r.Context(), cur)
		if err != nil {
			s.fail(w, l, err)
			return
		}
		v.Left = fmt.Sprintf(t["twofa_left"], left)
	default:
		setup, err := s.accounts.BeginTOTP(r.Context(), cur)
		if err != nil {
			s.fail(w, l, err)
			return
		}
		png, err := qrcode.Encode(setup.URI, qrcode.Medium, 256)
		if err != nil {
			s.fail(w, l, err)
			return
		}
		// A data: URI: the QR code never leaves this response (no URL that serves the
		// secret), and the CSP allows data: images only.
		v.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
		v.URI, v.Secret = setup.URI, groupSecret(setup.Secret)
	}
	s.render(w, status, "twofa", page{Lang: l, Title: t["twofa_title"], Signed: cur.Account.Email, Data: v, Form: form{Error: errText}})
}

// groupSecret writes a base32 secret in groups of four, for typing by hand.
func groupSecret(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Server) twofa(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	l := s.pageLang(r, cur)
	if !s.parseForm(w, r, l) {
		return
	}
	t := accountTexts[l]
	ctx := r.Context()
	switch r.PostFormValue("action") {
	case "enable":
		codes, err := s.accounts.ConfirmTOTP(ctx, s.client(r, l), cur, r.PostFormValue("code"))
		if err != nil {
			if s.throttled(w, l, err) {
				return
			}
			if status, text, ok := refusal(t, err); ok {
				s.renderTwofa(w, r, cur, status, text, nil)
				return
			}
			s.fail(w, l, err)
			return
		}
		cur.Account.TOTPEnabled = true
		s.renderTwofa(w, r, cur, http.StatusOK, "", codes)
	case "disable":
		if !cur.Account.TOTPEnabled {
			http.Redirect(w, r, "/account/2fa", http.StatusSeeOther)
			return
		}
		err := s.accounts.DisableTOTP(ctx, s.client(r, l), cur, r.PostFormValue("password"), r.PostFormValue("code"))
		if err != nil {
			if s.throttled(w, l, err) {
				return
			}
			if status, text, ok := refusal(t, err); ok {
				s.renderTwofa(w, r, cur, status, text, nil)
				return
			}
			s.fail(w, l, err)
			return
		}
		http.Redirect(w, r, "/account?done=twofa_off", http.StatusSeeOther)
	default:
		s.renderTwofa(w, r, cur, http.StatusBadRequest, t["bad_form"], nil)
	}
}

// when shows a time to the customer.
// when shows a time to the customer in the organisation's time zone, named.
func (s *Server) when(t time.Time) string {
	loc := time.UTC
	if s.tk != nil {
		loc = s.tk.Location
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}
