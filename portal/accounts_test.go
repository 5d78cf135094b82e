package portal_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

const goodPassword = "correct horse battery staple"

func TestSignUpMailsALinkThatVerifiesAndSignsIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		b := f.browser(t)
		r := b.post("/signup", "email", "Alice@Example.org", "password", goodPassword)
		if r.Code != 200 || !strings.Contains(r.Body, "We sent a link to alice@example.org") {
			t.Fatalf("sign-up: %d\n%s", r.Code, r.Body)
		}
		select {
		case <-f.wakes:
		default:
			t.Error("the outbound worker was not woken after the mail was queued")
		}
		ms := f.mails(t, outbound.KindAccountVerify, "alice@example.org")
		if len(ms) != 1 || ms[0].Link == "" || !strings.Contains(ms[0].Text, "within 60 minutes") {
			t.Fatalf("verification mails: %+v", ms)
		}
		m := ms[0]
		if got := m.Env.GetHeader("Auto-Submitted"); got != "auto-generated" || !m.Row.Automatic || m.Row.TicketID != nil {
			t.Errorf("mail: Auto-Submitted %q, automatic %v, ticket %v", got, m.Row.Automatic, m.Row.TicketID)
		}
		// Not signed in before the link is used, and the password does not work yet.
		if r := b.noFollow().get("/account"); r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/login?next=%2Faccount" {
			t.Fatalf("/account before verification: %d %s", r.Code, r.Header.Get("Location"))
		}
		// (The chosen password waits with the link: until it is used, it is no password.)
		if r := f.browser(t).post("/login", "email", "alice@example.org", "password", goodPassword); r.Code != http.StatusUnauthorized ||
			!strings.Contains(r.Body, "Wrong email address or password") {
			t.Fatalf("sign-in before verification: %d\n%s", r.Code, r.Body)
		}
		// Opening the link only asks (mail scanners open links); the button signs in.
		r = b.get(m.Link)
		if r.Code != 200 || !strings.Contains(r.Body, "Confirm alice@example.org and sign in") || !strings.Contains(r.Body, `<form method="post">`) {
			t.Fatalf("GET link: %d\n%s", r.Code, r.Body)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM accounts WHERE verified_at IS NOT NULL`); n != 0 {
			t.Fatal("GET verified the address")
		}
		r = b.post(m.Link)
		if r.Code != 200 || r.URL != "/account?done=welcome" || !strings.Contains(r.Body, "<strong>alice@example.org</strong>") ||
			!strings.Contains(r.Body, "Your address is confirmed") {
			t.Fatalf("POST link: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		// Sign out, then in with the password chosen at sign-up.
		if r := b.post("/logout"); r.Code != 200 || r.URL != "/login" {
			t.Fatalf("logout: %d at %s", r.Code, r.URL)
		}
		if r := b.noFollow().get("/account"); r.Code != http.StatusSeeOther {
			t.Fatalf("/account after logout: %d", r.Code)
		}
		r = b.post("/login", "email", "alice@example.org", "password", goodPassword, "next", "/account")
		if r.Code != 200 || r.URL != "/account" {
			t.Fatalf("sign-in: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
	})
}

func TestSignUpPasswordAppliesOnlyInTheBrowserThatChoseIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		// Mallory signs up with Alice's address and a password he knows.
		mallory := f.browser(t)
		mallory.post("/signup", "email", "alice@example.org", "password", goodPassword)
		link := f.lastLink(t, outbound.KindAccountVerify, "alice@example.org")
		// Alice opens the mail in her own browser: she is signed in, with no password set.
		alice := f.browser(t)
		r := alice.post(link)
		if r.Code != 200 || r.URL != "/account?done=welcome_nopw" || !strings.Contains(r.Body, "has no password yet") {
			t.Fatalf("Alice confirms: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		if r := mallory.post("/login", "email", "alice@example.org", "password", goodPassword); r.Code != http.StatusUnauthorized {
			t.Fatalf("Mallory's planted password: %d\n%s", r.Code, r.Body)
		}
		// Alice sets one without being asked for a current password.
		r = alice.post("/account/password", "new_password", "a tree grows in her garden")
		if r.Code != 200 || r.URL != "/account?done=password" {
			t.Fatalf("set password: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
	})
}

func TestMailRequestsAnswerAlikeForKnownAndUnknownAddresses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		f.signUp(t, f.browser(t), "known@example.org", goodPassword)
		for _, path := range []string{"/signup", "/login/link", "/reset"} {
			f.clock.Advance(10 * time.Minute) // the mail throttle: 3 per address, then one per 10 minutes
			known := f.browser(t).post(path, "email", "known@example.org")
			unknown := f.browser(t).post(path, "email", "nobody@example.org")
			if known.Code != 200 || unknown.Code != 200 ||
				strings.ReplaceAll(known.Body, "known@", "X@") != strings.ReplaceAll(unknown.Body, "nobody@", "X@") {
				t.Errorf("%s answers differ:\n%d %s\n%d %s", path, known.Code, known.Body, unknown.Code, unknown.Body)
			}
		}
		// Each mailed the owner of the address, and only them.
		for _, kind := range []string{outbound.KindAccountVerify, outbound.KindAccountSignIn, outbound.KindAccountReset} {
			if n := len(f.mails(t, kind, "nobody@example.org")); n != 1 {
				t.Errorf("%s mails to nobody@: %d", kind, n)
			}
		}
	})
}

func TestBadAddressesAndPasswordsGetAPageSayingWhy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		long := strings.Repeat("a", 250) + "@example.org" // 262 octets
		for _, tc := range []struct {
			name, email, password string
			code                  int
			want                  string
		}{
			{"an address over 254 octets", long, "", 400, "at most 254 characters"},
			{"no domain", "alice@", "", 400, "Please enter one email address"},
			{"a display name", "Alice <alice@example.org>", "", 400, "Please enter one email address"},
			{"two addresses", "a@example.org, b@example.org", "", 400, "Please enter one email address"},
			{"nothing", "", "", 400, "Please enter one email address"},
			{"a short password", "a@example.org", "short", 400, "at least 8 characters"},
			{"only spaces", "a@example.org", "          ", 400, "cannot be only spaces"},
			{"a common password", "a@example.org", "password1", 400, "most common"},
			{"a common password with capitals", "a@example.org", "Sunshine", 400, "most common"},
			{"the address's name", "margarethe@example.org", "margarethe2026!", 400, "name part of your email"},
			{"the brand", "a@example.org", "I love Acme Help!", 400, "may not contain our name"},
			{"257 characters", "a@example.org", strings.Repeat("ü", 257), 400, "at most 256 characters"},
			{"a megabyte", "a@example.org", strings.Repeat("x", 1<<20), 413, "more data than we accept"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := f.browser(t).post("/signup", "email", tc.email, "password", tc.password)
				if r.Code != tc.code || !strings.Contains(r.Body, tc.want) {
					t.Errorf("%d, want %d with %q\n%s", r.Code, tc.code, tc.want, r.Body)
				}
			})
		}
		if n := f.count(t, `SELECT COUNT(*) FROM outbox`); n != 0 {
			t.Errorf("%d mails queued for refused sign-ups", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM accounts`); n != 0 {
			t.Errorf("%d accounts made by refused sign-ups", n)
		}
		// A long passphrase of 64 characters and Unicode is fine, and NFKC makes
		// full-width digits the same password as ASCII ones.
		b := f.browser(t)
		f.signUp(t, b, "unicode@example.org", "ｍｙ ｔｒｅｅｈｏｕｓｅ ２０２６ "+strings.Repeat("é", 40))
		b.post("/logout")
		if r := b.post("/login", "email", "unicode@example.org", "password", "my treehouse 2026 "+strings.Repeat("é", 40)); r.URL != "/" {
			t.Errorf("NFKC-equal password refused: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
	})
}

func TestLinksThatCannotBeUsedGetAPageSayingWhy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		b := f.browser(t)
		b.post("/login/link", "email", "alice@example.org")
		link := f.lastLink(t, outbound.KindAccountSignIn, "alice@example.org")
		tampered := link[:len(link)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(link, "A")]
		wrongPurpose := strings.Replace(link, "/login/link/", "/signup/verify/", 1)
		for _, u := range []string{tampered, wrongPurpose, f.srv.URL + "/login/link/short", f.srv.URL + "/reset/" + strings.Repeat("x", 43)} {
			for _, r := range []response{b.get(u), b.post(u)} {
				if r.Code != 404 || !strings.Contains(r.Body, "This link is not valid") {
					t.Errorf("%s: %d\n%s", u, r.Code, r.Body)
				}
			}
		}
		if r := b.post(link); r.Code != 200 || r.URL != "/" {
			t.Fatalf("first use: %d at %s", r.Code, r.URL)
		}
		b.post("/logout")
		for _, r := range []response{b.get(link), b.post(link)} {
			if r.Code != 410 || !strings.Contains(r.Body, "already used") {
				t.Errorf("used link: %d\n%s", r.Code, r.Body)
			}
		}
		// Expired: 15 minutes for a sign-in link.
		b.post("/login/link", "email", "alice@example.org")
		link = f.lastLink(t, outbound.KindAccountSignIn, "alice@example.org")
		f.clock.Advance(account.SignInTTL)
		if r := b.post(link); r.Code != 410 || !strings.Contains(r.Body, "has expired") {
			t.Errorf("expired link: %d\n%s", r.Code, r.Body)
		}
		// Another account's link while signed in: nothing changes, the link stays usable.
		f.signUp(t, b, "bob@example.org", goodPassword)
		b.post("/login/link", "email", "alice@example.org")
		link = f.lastLink(t, outbound.KindAccountSignIn, "alice@example.org")
		if r := b.post(link); r.Code != 409 || !strings.Contains(r.Body, "belongs to another account") {
			t.Errorf("another account's link: %d\n%s", r.Code, r.Body)
		}
		if r := b.get("/account"); !strings.Contains(r.Body, "<strong>bob@example.org</strong>") {
			t.Errorf("still Bob? %s", r.Body)
		}
		if r := f.browser(t).post(link); r.Code != 200 || r.URL != "/" {
			t.Errorf("the link after the refusal: %d at %s", r.Code, r.URL)
		}
	})
}

func TestAContactWhoWroteByMailSignsInByLink(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		f.newTicket(t, "carol@example.org")
		b := f.browser(t)
		b.lang = "de-DE,de;q=0.9"
		r := b.post("/login/link", "email", "carol@example.org")
		if r.Code != 200 || !strings.Contains(r.Body, "Anmeldelink an carol@example.org") {
			t.Fatalf("link request: %d\n%s", r.Code, r.Body)
		}
		m := f.mails(t, outbound.KindAccountSignIn, "carol@example.org")
		if len(m) != 1 || !strings.Contains(m[0].Text, "innerhalb von 15 Minuten") {
			t.Fatalf("German sign-in mail: %+v", m)
		}
		if r := b.post(m[0].Link); r.Code != 200 || r.URL != "/" {
			t.Fatalf("sign in: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		// The account is the contact's: one contact row for the address.
		if n := f.count(t, `SELECT COUNT(*) FROM contacts WHERE email = ?`, "carol@example.org"); n != 1 {
			t.Errorf("%d contacts for carol", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM accounts a JOIN contacts c ON c.id = a.contact_id WHERE c.email = ? AND a.verified_at IS NOT NULL`, "carol@example.org"); n != 1 {
			t.Errorf("carol's account is not verified")
		}
	})
}

func TestResetSetsAPasswordAndEndsEveryOtherSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		laptop := f.browser(t)
		f.signUp(t, laptop, "alice@example.org", goodPassword)
		phone := f.browser(t)
		phone.post("/reset", "email", "alice@example.org")
		link := f.lastLink(t, outbound.KindAccountReset, "alice@example.org")
		r := phone.get(link)
		if r.Code != 200 || !strings.Contains(r.Body, `name="new_password"`) || !strings.Contains(r.Body, `autocomplete="new-password"`) {
			t.Fatalf("reset form: %d\n%s", r.Code, r.Body)
		}
		// A weak password is refused and the link stays usable.
		if r := phone.post(link, "new_password", "12345678"); r.Code != 400 || !strings.Contains(r.Body, "most common") {
			t.Fatalf("weak: %d\n%s", r.Code, r.Body)
		}
		r = phone.post(link, "new_password", "a brand new passphrase")
		if r.Code != 200 || r.URL != "/account?done=reset" {
			t.Fatalf("reset: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		if r := laptop.noFollow().get("/account"); r.Code != http.StatusSeeOther {
			t.Errorf("the laptop's session survived the reset: %d", r.Code)
		}
		if r := phone.post(link, "new_password", "another new passphrase"); r.Code != 410 {
			t.Errorf("reset link used twice: %d", r.Code)
		}
		if r := f.browser(t).post("/login", "email", "alice@example.org", "password", goodPassword); r.Code != 401 {
			t.Errorf("old password: %d", r.Code)
		}
		if r := f.browser(t).post("/login", "email", "alice@example.org", "password", "a brand new passphrase"); r.URL != "/" {
			t.Errorf("new password: %d at %s", r.Code, r.URL)
		}
	})
}

func TestTwoFactorAuthentication(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		lim := account.DefaultLimits()
		lim.Code = account.Rate{Burst: 50, Every: time.Second} // TestCodesAreThrottled has the real one
		f := setupAccounts(t, st, accOptions{limits: &lim})
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		r := b.get("/account/2fa")
		secret := strings.ReplaceAll(secretRE.FindStringSubmatch(r.Body)[1], " ", "")
		for _, tc := range []struct{ code, want string }{
			{"12345", "A code has 6 digits"},
			{"1234567", "A code has 6 digits"},
			{"abcdef", "A code has 6 digits"},
			{fmt.Sprintf("%06d", (atoi(f.code(t, secret))+1)%1000000), "not right"},
		} {
			if r := b.post("/account/2fa", "action", "enable", "code", tc.code); r.Code < 400 || !strings.Contains(r.Body, tc.want) {
				t.Errorf("enable with %q: %d\n%s", tc.code, r.Code, r.Body)
			}
		}
		secret2, recovery := f.enable2FA(t, b)
		if secret2 != secret {
			t.Errorf("the secret changed between page loads: %s, %s", secret, secret2)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM account_recovery_codes WHERE code_hash LIKE ?`, "%"+recovery[0]+"%"); n != 0 {
			t.Error("recovery codes stored in the clear")
		}
		b.post("/logout")
		// The password alone asks for the code; the code of the step that enabled 2FA
		// was used already (a replay in the same 30 s).
		used := f.code(t, secret)
		r = b.post("/login", "email", "alice@example.org", "password", goodPassword)
		if r.Code != 200 || !strings.Contains(r.Body, `name="code"`) || !strings.Contains(r.Body, `autocomplete="one-time-code"`) {
			t.Fatalf("password with 2FA on: %d\n%s", r.Code, r.Body)
		}
		if r := b.noFollow().get("/account"); r.Code != http.StatusSeeOther {
			t.Fatal("signed in before the code")
		}
		if r := b.post("/login", "code", used); r.Code != 401 || !strings.Contains(r.Body, "already used") {
			t.Fatalf("replayed code: %d\n%s", r.Code, r.Body)
		}
		f.clock.Advance(30 * time.Second)
		code := f.code(t, secret)
		if r := b.post("/login", "code", code, "next", "/account"); r.Code != 200 || r.URL != "/account" {
			t.Fatalf("code: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		// The same code again, in another sign-in, in the same step: refused.
		other := f.browser(t)
		if r := other.post("/login", "email", "alice@example.org", "password", goodPassword, "code", code); r.Code != 401 {
			t.Errorf("code replayed in one form: %d\n%s", r.Code, r.Body)
		}
		// A recovery code works once.
		if r := other.post("/login", "code", strings.ToUpper(recovery[3])); r.Code != 200 || r.URL != "/" {
			t.Errorf("recovery code: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		third := f.browser(t)
		third.post("/login", "email", "alice@example.org", "password", goodPassword)
		if r := third.post("/login", "code", recovery[3]); r.Code != 401 {
			t.Errorf("recovery code twice: %d", r.Code)
		}
		// An emailed sign-in link asks for the code too.
		f.clock.Advance(time.Minute)
		third.post("/login/link", "email", "alice@example.org")
		r = third.post(f.lastLink(t, outbound.KindAccountSignIn, "alice@example.org"))
		if r.URL != "/login" || !strings.Contains(r.Body, `name="code"`) {
			t.Fatalf("link with 2FA on: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		// A reset does not bypass it either.
		f.clock.Advance(30 * time.Second)
		third.post("/reset", "email", "alice@example.org")
		r = third.post(f.lastLink(t, outbound.KindAccountReset, "alice@example.org"), "new_password", "another good passphrase")
		if !strings.HasPrefix(r.URL, "/login") || !strings.Contains(r.Body, `name="code"`) {
			t.Fatalf("reset with 2FA on: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		if r := third.post("/login", "code", f.code(t, secret), "next", "/account?done=reset"); r.URL != "/account?done=reset" {
			t.Fatalf("code after reset: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		// Turning it off needs the password and a code.
		f.clock.Advance(30 * time.Second)
		if r := third.post("/account/2fa", "action", "disable", "password", goodPassword, "code", f.code(t, secret)); r.Code != 401 ||
			!strings.Contains(r.Body, "current password is not right") {
			t.Errorf("disable with the old password: %d\n%s", r.Code, r.Body)
		}
		if r := third.post("/account/2fa", "action", "disable", "password", "another good passphrase", "code", "000000"); r.Code != 401 {
			t.Errorf("disable with a wrong code: %d", r.Code)
		}
		if r := third.post("/account/2fa", "action", "disable", "password", "another good passphrase", "code", f.code(t, secret)); r.URL != "/account?done=twofa_off" {
			t.Errorf("disable: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		if f.failures(t, "bad_code") < 3 {
			t.Errorf("bad codes counted: %v", f.failures(t, "bad_code"))
		}
	})
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestSessionsExpireWhenIdleAndAtTheirLifetime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		signedIn := func() bool { return b.noFollow().get("/account").Code == 200 }
		f.clock.Advance(24*time.Hour - time.Second)
		if !signedIn() {
			t.Fatal("signed out before the idle timeout")
		}
		// Active every 23 hours: the idle timeout never strikes, the lifetime (720h) does.
		for range 40 {
			f.clock.Advance(23 * time.Hour)
			if !signedIn() {
				break
			}
		}
		if signedIn() {
			t.Fatal("signed in past the lifetime")
		}
		if elapsed := f.clock.Now().Sub(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)); elapsed < 720*time.Hour || elapsed > 720*time.Hour+23*time.Hour {
			t.Errorf("session ended after %s", elapsed)
		}
		// Idle: 24h without a request.
		b.post("/login", "email", "alice@example.org", "password", goodPassword)
		f.clock.Advance(24 * time.Hour)
		if signedIn() {
			t.Error("signed in after 24h idle")
		}
		// With 2FA on: 1h idle.
		b.post("/login", "email", "alice@example.org", "password", goodPassword)
		f.enable2FA(t, b)
		f.clock.Advance(59 * time.Minute)
		if !signedIn() {
			t.Fatal("2FA session ended before 1h idle")
		}
		f.clock.Advance(time.Hour)
		if signedIn() {
			t.Error("2FA session alive after 1h idle")
		}
	})
}

func TestStaleAndPlantedSessionCookies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		u := mustURL(t, f.srv.URL)
		before := b.c.Jar.Cookies(u)[0].Value
		b.post("/logout")
		// The old id, put back by hand: nothing.
		b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "mxdesk_session", Value: before, Path: "/"}})
		r := b.noFollow().get("/account")
		if r.Code != http.StatusSeeOther || !strings.Contains(r.Header.Get("Set-Cookie"), "mxdesk_session=;") {
			t.Errorf("stale cookie: %d, Set-Cookie %q", r.Code, r.Header.Get("Set-Cookie"))
		}
		// A garbage cookie: the sign-in page, never a 500.
		b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "mxdesk_session", Value: "garbage\x7f", Path: "/"}})
		if r := b.get("/account"); r.Code != 200 || r.URL != "/login?next=%2Faccount" {
			t.Errorf("garbage cookie: %d at %s", r.Code, r.URL)
		}
		// A new id at every sign-in: the planted one is not the session.
		planted := strings.Repeat("p", 43)
		b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "mxdesk_session", Value: planted, Path: "/"}})
		b.post("/login", "email", "alice@example.org", "password", goodPassword)
		if after := b.c.Jar.Cookies(u)[0].Value; after == planted || after == before || len(after) != 43 {
			t.Errorf("session id after sign-in: %q", after)
		}
	})
}

func TestSessionCookieAttributes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		b := f.browser(t)
		b.post("/signup", "email", "alice@example.org", "password", goodPassword)
		r := b.noFollow().post(f.lastLink(t, outbound.KindAccountVerify, "alice@example.org"))
		var set string
		for _, c := range r.Header.Values("Set-Cookie") {
			if strings.HasPrefix(c, "mxdesk_session=") {
				set = c
			}
		}
		if !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Lax") || !strings.Contains(set, "Path=/") {
			t.Errorf("session cookie: %q", set)
		}
		// Only a hash of the id is stored.
		id := strings.TrimPrefix(strings.SplitN(set, ";", 2)[0], "mxdesk_session=")
		if n := f.count(t, `SELECT COUNT(*) FROM account_sessions WHERE id_hash = ?`, id); n != 0 || len(id) != 43 {
			t.Errorf("session id %q stored in the clear", id)
		}
	})
}

func TestSignOutEverywhereElse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		laptop, phone := f.browser(t), f.browser(t)
		f.signUp(t, laptop, "alice@example.org", goodPassword)
		phone.c.Transport = uaTransport{"PhoneBrowser/1.0"}
		phone.post("/login", "email", "alice@example.org", "password", goodPassword)
		r := laptop.get("/account")
		if !strings.Contains(r.Body, "PhoneBrowser/1.0") || strings.Count(r.Body, "<li>") != 2 || !strings.Contains(r.Body, "(this device)") {
			t.Fatalf("sessions list:\n%s", r.Body)
		}
		if r := laptop.post("/account/sessions"); r.URL != "/account?done=others" || strings.Count(r.Body, "<li>") != 1 {
			t.Fatalf("sign out others: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		if phone.noFollow().get("/account").Code != http.StatusSeeOther {
			t.Error("the phone is still signed in")
		}
		// A password change ends the others too, and asks for the current one.
		phone.post("/login", "email", "alice@example.org", "password", goodPassword)
		if r := laptop.post("/account/password", "password", "wrong one", "new_password", "the next passphrase"); r.Code != 401 {
			t.Errorf("change with a wrong current password: %d", r.Code)
		}
		if r := laptop.post("/account/password", "password", goodPassword, "new_password", "the next passphrase"); r.URL != "/account?done=password" {
			t.Errorf("change: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		if phone.noFollow().get("/account").Code != http.StatusSeeOther {
			t.Error("the phone survived the password change")
		}
	})
}

type uaTransport struct{ ua string }

func (u uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r.Header.Set("User-Agent", u.ua)
	return http.DefaultTransport.RoundTrip(r)
}

func TestCrossOriginPostsChangeNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		for _, hdr := range [][2]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
			for _, path := range []string{"/logout", "/account/sessions", "/account/password", "/signup", "/login"} {
				req, _ := http.NewRequest("POST", b.url(path), strings.NewReader("email=x%40example.org&new_password=hijacked+passphrase"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set(hdr[0], hdr[1])
				r := b.do(req)
				if r.Code != 403 || !strings.Contains(r.Body, "sent from another site") {
					t.Errorf("%s with %s: %d\n%s", path, hdr[0], r.Code, r.Body)
				}
			}
		}
		if b.noFollow().get("/account").Code != 200 {
			t.Error("signed out by a cross-origin POST")
		}
		if n := f.count(t, `SELECT COUNT(*) FROM outbox`); n != 1 {
			t.Errorf("%d mails: a cross-origin sign-up was acted on", n)
		}
		// The same form from the site itself works.
		req, _ := http.NewRequest("POST", b.url("/logout"), nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		if r := b.do(req); r.URL != "/login" {
			t.Errorf("same-origin logout: %d at %s", r.Code, r.URL)
		}
	})
}

func TestThrottlesAnswer429WithRetryAfter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		f.signUp(t, f.browser(t), "alice@example.org", goodPassword)
		lim := account.DefaultLimits()
		// Per account: guesses from many addresses (through the trusted proxy) meet it.
		var r response
		for i := range lim.SignInAccount.Burst + 1 {
			b := f.browser(t)
			b.xff = fmt.Sprintf("198.51.100.%d", i+1)
			r = b.post("/login", "email", "alice@example.org", "password", fmt.Sprintf("guess number %d", i))
		}
		if r.Code != 429 || r.Header.Get("Retry-After") == "" || !strings.Contains(r.Body, "too many attempts") {
			t.Fatalf("per-account throttle: %d Retry-After %q\n%s", r.Code, r.Header.Get("Retry-After"), r.Body)
		}
		// Even the right password waits, and nothing was revealed by the answers.
		good := f.browser(t)
		good.xff = "203.0.113.9"
		if r := good.post("/login", "email", "alice@example.org", "password", goodPassword); r.Code != 429 {
			t.Errorf("right password while throttled: %d", r.Code)
		}
		if f.failures(t, "bad_credentials") != float64(lim.SignInAccount.Burst) || f.failures(t, "throttled") != 2 {
			t.Errorf("failures counted: bad %v, throttled %v", f.failures(t, "bad_credentials"), f.failures(t, "throttled"))
		}
		f.clock.Advance(lim.SignInAccount.Every)
		if r := good.post("/login", "email", "alice@example.org", "password", goodPassword); r.URL != "/" {
			t.Errorf("after the wait: %d at %s", r.Code, r.URL)
		}
		// Per IP: one client guessing many addresses. Loopback is not exempt.
		b := f.browser(t)
		for i := range lim.SignInIP.Burst + 1 {
			r = b.post("/login", "email", fmt.Sprintf("user%d@example.org", i), "password", "guess guess guess")
		}
		if r.Code != 429 {
			t.Errorf("per-IP throttle from loopback: %d", r.Code)
		}
		// Mail requests: 3 per address, then one per 10 minutes; the answer says so.
		for i := range lim.MailAddress.Burst + 1 {
			c := f.browser(t)
			c.xff = fmt.Sprintf("192.0.2.%d", i+1)
			r = c.post("/reset", "email", "dora@example.org")
		}
		if r.Code != 429 || r.Header.Get("Retry-After") != "601" || !strings.Contains(r.Body, "11 minutes") {
			t.Errorf("mail throttle: %d %q\n%s", r.Code, r.Header.Get("Retry-After"), r.Body)
		}
		if n := len(f.mails(t, outbound.KindAccountReset, "dora@example.org")); n != lim.MailAddress.Burst {
			t.Errorf("%d reset mails to dora", n)
		}
	})
}

func TestAccountMailsCountTowardTheAutomaticMailCap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		off := account.Limits{}
		f := setupAccounts(t, st, accOptions{limits: &off, maxAuto: 3})
		for range 5 {
			if r := f.browser(t).post("/login/link", "email", "erin@example.org"); r.Code != 200 {
				t.Fatalf("link request: %d", r.Code)
			}
		}
		if n := f.count(t, `SELECT COUNT(*) FROM outbox WHERE rcpt_to = ? AND status = ?`, "erin@example.org", store.OutboxSuppressed); n != 2 {
			t.Errorf("%d suppressed, want 2", n)
		}
	})
}

func TestTwoSignUpsForOneAddressAtOnceMakeOneAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		var wg sync.WaitGroup
		codes := make([]int, 4)
		for i := range codes {
			wg.Go(func() {
				b := f.browser(t)
				b.xff = fmt.Sprintf("198.51.100.%d", i+1)
				codes[i] = b.post("/signup", "email", "frank@example.org", "password", goodPassword).Code
			})
		}
		wg.Wait()
		ok := 0
		for _, c := range codes {
			if c == 200 {
				ok++
			} else if c != 429 {
				t.Errorf("sign-up: %d", c)
			}
		}
		if ok < 3 {
			t.Errorf("only %d sign-ups answered 200: %v", ok, codes)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM accounts`); n != 1 {
			t.Errorf("%d accounts", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM contacts`); n != 1 {
			t.Errorf("%d contacts", n)
		}
	})
}

func TestEveryPageCarriesTheSecurityHeaders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		for _, path := range []string{"/", "/login", "/signup", "/login/link", "/reset", "/account", "/account/2fa", "/portal.css",
			"/healthz", "/signup/verify/" + strings.Repeat("x", 43), "/l/nonsense", "/nope"} {
			r := b.get(path)
			csp := r.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") ||
				!strings.Contains(csp, "default-src 'none'") {
				t.Errorf("%s: CSP %q", path, csp)
			}
			if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Referrer-Policy") != "same-origin" {
				t.Errorf("%s: headers %v", path, r.Header)
			}
			if strings.Contains(r.Body, "<script") || strings.Contains(r.Body, " style=") || strings.Contains(r.Body, "<style") {
				t.Errorf("%s: inline script or style", path)
			}
			if r.Code >= 500 {
				t.Errorf("%s: %d", path, r.Code)
			}
		}
	})
}

func TestFormsHelpPasswordManagers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		b := f.browser(t)
		for path, want := range map[string][]string{
			"/login":      {`name="email"`, `autocomplete="username"`, `name="password"`, `autocomplete="current-password"`, `<label for="password">`},
			"/signup":     {`name="email"`, `autocomplete="username"`, `autocomplete="new-password"`, `<label for="email">`},
			"/login/link": {`name="email"`, `autocomplete="username"`},
			"/reset":      {`name="email"`, `autocomplete="username"`},
		} {
			r := b.get(path)
			for _, w := range want {
				if !strings.Contains(r.Body, w) {
					t.Errorf("%s lacks %s", path, w)
				}
			}
			if strings.Contains(r.Body, "onpaste") || strings.Contains(r.Body, "maxlength") {
				t.Errorf("%s restricts pasting or length", path)
			}
		}
	})
}

func TestSignedOutPagesLeadToLoginAndBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		f.signUp(t, f.browser(t), "alice@example.org", goodPassword)
		b := f.browser(t)
		r := b.get("/account/2fa")
		if r.URL != "/login?next=%2Faccount%2F2fa" || !strings.Contains(r.Body, `value="/account/2fa"`) {
			t.Fatalf("signed out: at %s\n%s", r.URL, r.Body)
		}
		if r := b.post("/login", "email", "alice@example.org", "password", goodPassword, "next", "/account/2fa"); r.URL != "/account/2fa" {
			t.Errorf("back after sign-in: %s", r.URL)
		}
		// next never leaves the site.
		for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
			c := f.browser(t)
			if r := c.noFollow().post("/login", "email", "alice@example.org", "password", goodPassword, "next", next); r.Header.Get("Location") != "/" {
				t.Errorf("next %q: Location %q", next, r.Header.Get("Location"))
			}
		}
		// POSTs signed out change nothing and lead to sign-in too.
		if r := f.browser(t).noFollow().post("/account/sessions"); r.Code != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("signed-out POST: %d %s", r.Code, r.Header.Get("Location"))
		}
	})
}

func TestGermanPagesFollowTheAccountSetting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		if r := b.post("/account/language", "language", "de"); r.URL != "/account?done=language" || !strings.Contains(r.Body, "Ihr Konto") {
			t.Fatalf("language: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
		if r := b.post("/account/language", "language", "xx"); r.Code != 400 || !strings.Contains(r.Body, "angebotenen Sprachen") {
			t.Errorf("unknown language: %d\n%s", r.Code, r.Body)
		}
		// Mail follows the account's language too, whatever the browser says.
		c := f.browser(t)
		c.lang = "en"
		c.post("/reset", "email", "alice@example.org")
		if m := f.mails(t, outbound.KindAccountReset, "alice@example.org"); len(m) != 1 || !strings.Contains(m[0].Text, "innerhalb von 30 Minuten") {
			t.Errorf("reset mail not in German: %+v", m)
		}
	})
}

func TestClientAddressComesFromTrustedProxiesOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		f.signUp(t, f.browser(t), "alice@example.org", goodPassword)
		b := f.browser(t)
		b.xff = "10.9.8.7, 203.0.113.50"
		b.c.Transport = uaTransport{"ViaProxy/1"}
		b.post("/login", "email", "alice@example.org", "password", goodPassword)
		r := b.get("/account")
		if !strings.Contains(r.Body, "203.0.113.50") || strings.Contains(r.Body, "10.9.8.7") {
			t.Errorf("client address from X-Forwarded-For:\n%s", r.Body)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCodesAreThrottled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		secret, _ := f.enable2FA(t, b) // one code spent
		b.post("/logout")
		f.clock.Advance(30 * time.Second)
		b.post("/login", "email", "alice@example.org", "password", goodPassword)
		lim := account.DefaultLimits().Code
		var r response
		for range lim.Burst {
			r = b.post("/login", "code", "000000")
		}
		if r.Code != 429 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("codes after the burst: %d\n%s", r.Code, r.Body)
		}
		// The right code waits too; after the wait it works.
		if r := b.post("/login", "code", f.code(t, secret)); r.Code != 429 {
			t.Errorf("right code while throttled: %d", r.Code)
		}
		f.clock.Advance(lim.Every)
		if r := b.post("/login", "code", f.code(t, secret)); r.URL != "/" {
			t.Errorf("after the wait: %d at %s\n%s", r.Code, r.URL, r.Body)
		}
	})
}
