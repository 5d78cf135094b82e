package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
)

// How long emailed links work, and how long a sign-in may wait for its second factor.
const (
	VerifyTTL = 60 * time.Minute
	SignInTTL = 15 * time.Minute
	ResetTTL  = 30 * time.Minute
	MFATTL    = 10 * time.Minute
	// With a second factor on, sessions are held shorter than configured.
	MFAIdleMax     = time.Hour
	MFALifetimeMax = 24 * time.Hour
	// touchEvery spares a write per page view: last_seen_at moves at most once a minute.
	touchEvery = time.Minute
)

// The paths of the emailed links; the portal serves them.
const (
	VerifyPath = "/signup/verify/"
	SignInPath = "/login/link/"
	ResetPath  = "/reset/"
)

// Errors the portal turns into pages.
var (
	ErrBadAddress     = errors.New("not a valid email address")
	ErrBadCredentials = errors.New("wrong address or password")
	ErrNotVerified    = errors.New("address not verified yet")
	ErrNoSession      = errors.New("not signed in")
	ErrCodeFormat     = errors.New("a code is 6 digits (or a 10-character recovery code)")
	ErrBadCode        = errors.New("wrong code")
	ErrCodeUsed       = errors.New("code already used")
	ErrTokenInvalid   = errors.New("link not valid")
	ErrTokenExpired   = errors.New("link expired")
	ErrTokenUsed      = errors.New("link already used")
	ErrWrongPassword  = errors.New("current password wrong")
	ErrNoPendingTOTP  = errors.New("two-factor setup not started")
)

// Config is what the service needs from the rest of mxdesk.
type Config struct {
	Composer *outbound.Composer
	// BaseURL starts the links in mail (the portal's public URL, no trailing slash).
	BaseURL string
	// Brand names the issuer in authenticator apps and may not appear in passwords.
	Brand string
	// MaxAutoPerHour is the automatic-mail cap per address these mails count toward.
	MaxAutoPerHour int
	// SessionIdle and SessionLifetime bound a session (defaults 24h and 720h).
	SessionIdle, SessionLifetime time.Duration
	// Limits are the throttles; nil is DefaultLimits.
	Limits *Limits
	// Params and HashConcurrency set argon2id's cost and how many hashes run at once
	// (defaults: DefaultParams, the number of CPUs).
	Params          *Params
	HashConcurrency int
	// Now is the clock (tests inject one); nil is the store's.
	Now     func() time.Time
	Metrics *Metrics
}

// Client is who is asking: for throttles, logs, the session list, and the language of
// a mail to an address with no account setting yet.
type Client struct {
	IP        string
	UserAgent string
	Lang      string
}

// Service runs the account flows.
type Service struct {
	st       *store.Store
	cfg      Config
	log      *slog.Logger
	hasher   *Hasher
	throttle *throttle
	limits   Limits
	now      func() time.Time

	dummyOnce sync.Once
	dummy     string
	// brand is cfg.Brand until SetBrand replaces it (a reload).
	brand atomic.Pointer[string]
}

// New returns the account service.
func New(st *store.Store, cfg Config, log *slog.Logger) *Service {
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 24 * time.Hour
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 720 * time.Hour
	}
	if cfg.MaxAutoPerHour <= 0 {
		cfg.MaxAutoPerHour = 10
	}
	p := DefaultParams
	if cfg.Params != nil {
		p = *cfg.Params
	}
	if cfg.HashConcurrency <= 0 {
		cfg.HashConcurrency = runtime.NumCPU()
	}
	s := &Service{st: st, cfg: cfg, log: log, hasher: NewHasher(p, cfg.HashConcurrency), throttle: newThrottle(),
		limits: DefaultLimits(), now: cfg.Now}
	if cfg.Limits != nil {
		s.limits = *cfg.Limits
	}
	if s.now == nil {
		s.now = store.Now
	}
	s.SetBrand(cfg.Brand)
	return s
}

// SetBrand changes the name authenticator apps show for new two-factor set-ups and that
// passwords may not contain, from the next request on.
func (s *Service) SetBrand(name string) { s.brand.Store(&name) }

func (s *Service) brandName() string { return *s.brand.Load() }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// ParseAddress checks an address typed into a form: one bare address of at most 254
// octets (RFC 5321's path limit), lower-cased.
func ParseAddress(in string) (string, error) {
	in = strings.TrimSpace(in)
	if in == "" || len(in) > 254 {
		return "", ErrBadAddress
	}
	a, err := mail.ParseAddress(in)
	if err != nil || a.Address != in || a.Name != "" {
		return "", ErrBadAddress
	}
	local, domain, ok := strings.Cut(a.Address, "@")
	if !ok || local == "" || domain == "" || len(local) > 64 || strings.ContainsAny(a.Address, " \t\r\n<>\"") {
		return "", ErrBadAddress
	}
	return strings.ToLower(a.Address), nil
}

// allow spends an attempt of an action for the client and the address.
func (s *Service) allow(action string, c Client, ipRate Rate, key string, keyRate Rate) error {
	err := s.throttle.allow(s.now(), []string{action + "|ip|" + c.IP, action + "|" + key}, []Rate{ipRate, keyRate})
	if err != nil {
		s.cfg.Metrics.throttled(action)
		s.log.Warn("account: throttled", "action", action, "ip", c.IP, "key", key)
	}
	return err
}

// failed logs and counts a failed sign-in.
func (s *Service) failed(c Client, email, reason string) {
	s.cfg.Metrics.failure(reason)
	s.log.Warn("account: sign-in failed", "ip", c.IP, "email", email, "reason", reason)
}

// --- emailed links -----------------------------------------------------------------

// RequestMail answers the sign-up, sign-in-link and reset forms: it makes sure the
// address has an (unverified, if new) account and mails the link of the purpose. The
// answer is the same whether the account existed or not, so the form reveals nothing;
// only the address's owner learns anything, by mail. A sign-up's password is checked
// (an error says why) and kept with the link, bound to the browser that chose it
// (binding): only opening the link in that browser applies it, so whoever signs up
// with someone else's address cannot plant a password they know.
func (s *Service) RequestMail(ctx context.Context, c Client, purpose, email, password, binding string) error {
	addr, err := ParseAddress(email)
	if err != nil {
		return err
	}
	var pwHash string
	if purpose == store.TokenVerify && password != "" {
		if err := CheckPassword(password, addr, s.brandName()); err != nil {
			return err
		}
	}
	if err := s.allow("mail", c, s.limits.MailIP, addr, s.limits.MailAddress); err != nil {
		return err
	}
	if purpose == store.TokenVerify && password != "" {
		if pwHash, err = s.hasher.Hash(ctx, password); err != nil {
			return err
		}
	}
	kind, path, ttl := mailOf(purpose)
	if kind == "" {
		return fmt.Errorf("account: unknown purpose %q", purpose)
	}
	token := newSecret()
	var queued bool
	err = s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		now := s.clock()
		acc, err := store.EnsureAccount(ctx, tx, addr, now)
		if err != nil {
			return err
		}
		t := &store.AccountToken{TokenHash: hashSecret(token), AccountID: acc.ID, Purpose: purpose, PasswordHash: pwHash,
			CreatedAt: now, ExpiresAt: now.Add(ttl)}
		if pwHash != "" && binding != "" {
			t.BindingHash = hashSecret(binding)
		}
		if err := store.InsertAccountToken(ctx, tx, t); err != nil {
			return err
		}
		lang := acc.Language
		if lang == "" {
			lang = c.Lang
		}
		queued, err = s.queueMail(ctx, tx, outbound.Notice{Kind: kind, Lang: s.cfg.Composer.Language(lang),
			To: mail.Address{Address: addr}, ActionURL: s.cfg.BaseURL + path + token, ValidMinutes: int(ttl / time.Minute),
			AutoSubmitted: "auto-generated"}, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("account: %s mail to %s: %w", purpose, addr, err)
	}
	s.log.Info("account: link mailed", "purpose", purpose, "ip", c.IP, "queued", queued)
	return nil
}

func mailOf(purpose string) (kind, path string, ttl time.Duration) {
	switch purpose {
	case store.TokenVerify:
		return outbound.KindAccountVerify, VerifyPath, VerifyTTL
	case store.TokenSignIn:
		return outbound.KindAccountSignIn, SignInPath, SignInTTL
	case store.TokenReset:
		return outbound.KindAccountReset, ResetPath, ResetTTL
	}
	return "", "", 0
}

// queueMail writes an account mail to the outbox (the store wakes the outbound worker
// after the commit). Like every automatic mail it counts toward the cap per address: past
// it, the row is kept suppressed and nothing is sent. It says whether the mail will go.
func (s *Service) queueMail(ctx context.Context, tx *sqlx.Tx, n outbound.Notice, now time.Time) (bool, error) {
	m, err := s.cfg.Composer.Compose(n)
	if err != nil {
		return false, err
	}
	row := &store.Outbox{Kind: n.Kind, Automatic: true, MailFrom: m.From, RcptTo: m.To, MessageID: m.MessageID, Raw: m.Raw}
	count, err := store.CountAutomaticSince(ctx, tx, m.To, now.Add(-time.Hour))
	if err != nil {
		return false, err
	}
	if count >= s.cfg.MaxAutoPerHour {
		row.Status = store.OutboxSuppressed
		row.LastError = fmt.Sprintf("loop guard: %d automatic mails to %s in the last hour", count, m.To)
		s.log.Warn("account: mail suppressed by the automatic-mail cap", "kind", n.Kind, "count", count)
	}
	if err := s.st.InsertOutbox(ctx, tx, row); err != nil {
		return false, err
	}
	return row.Status != store.OutboxSuppressed, nil
}

// Token is an emailed link looked at without spending it: what its page shows.
type Token struct {
	Purpose   string
	AccountID int64
	Email     string
}

// PeekToken checks an emailed link of a purpose without spending it.
func (s *Service) PeekToken(ctx context.Context, token, purpose string) (*Token, error) {
	t, err := s.token(ctx, s.st.DB, token, purpose)
	if err != nil {
		return nil, err
	}
	acc, err := store.AccountByID(ctx, s.st.DB, t.AccountID)
	if err != nil {
		return nil, err
	}
	return &Token{Purpose: t.Purpose, AccountID: t.AccountID, Email: acc.Email}, nil
}

func (s *Service) token(ctx context.Context, q sqlx.QueryerContext, token, purpose string) (*store.AccountToken, error) {
	if len(token) != 43 {
		return nil, ErrTokenInvalid
	}
	t, err := store.GetAccountToken(ctx, q, hashSecret(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrTokenInvalid
	}
	if err != nil {
		return nil, err
	}
	switch {
	case t.Purpose != purpose:
		return nil, ErrTokenInvalid
	case t.UsedAt != nil:
		return nil, ErrTokenUsed
	case !s.clock().Before(t.ExpiresAt):
		return nil, ErrTokenExpired
	}
	return t, nil
}

// SignIn is the outcome of a step that signs in: a session id for the cookie, and
// whether it is a full session or still waits for the second factor.
type SignIn struct {
	SessionID string
	Stage     string // store.SessionFull or store.SessionMFA
	AccountID int64
	// NeedPassword: signed in by a link and the account has no password yet (the page
	// offers to set one; emailed links keep working without).
	NeedPassword bool
}

// UseLink spends an emailed verify or sign-in link: the address is proven, so it is
// verified, and the customer is signed in (or asked for the second factor). A sign-up
// link opened in the browser that signed up (binding) also sets the chosen password.
func (s *Service) UseLink(ctx context.Context, c Client, token, purpose, binding string) (*SignIn, error) {
	var out *SignIn
	err := s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		now := s.clock()
		t, err := s.token(ctx, tx, token, purpose)
		if err != nil {
			return err
		}
		if ok, err := store.UseAccountToken(ctx, tx, t.TokenHash, now); err != nil {
			return err
		} else if !ok {
			return ErrTokenUsed
		}
		if err := store.VerifyAccount(ctx, tx, t.AccountID, now); err != nil {
			return err
		}
		if t.PasswordHash != "" && t.BindingHash != "" && binding != "" && hashSecret(binding) == t.BindingHash {
			if _, err := store.SetAccountPasswordIfUnset(ctx, tx, t.AccountID, t.PasswordHash, now); err != nil {
				return err
			}
		}
		acc, err := store.AccountByID(ctx, tx, t.AccountID)
		if err != nil {
			return err
		}
		out, err = s.startSession(ctx, tx, acc, c, now)
		if err != nil {
			return err
		}
		out.NeedPassword = acc.PasswordHash == ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("account: signed in by link", "purpose", purpose, "account", out.AccountID, "ip", c.IP, "stage", out.Stage)
	return out, nil
}

// Reset spends a reset link and sets the new password. Every session of the account
// ends; the customer is signed in again, and with 2FA on must still give a code.
func (s *Service) Reset(ctx context.Context, c Client, token, newPassword string) (*SignIn, error) {
	peek, err := s.PeekToken(ctx, token, store.TokenReset)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword(newPassword, peek.Email, s.brandName()); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return nil, err
	}
	var out *SignIn
	err = s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		now := s.clock()
		t, err := s.token(ctx, tx, token, store.TokenReset)
		if err != nil {
			return err
		}
		if ok, err := store.UseAccountToken(ctx, tx, t.TokenHash, now); err != nil {
			return err
		} else if !ok {
			return ErrTokenUsed
		}
		if err := store.SpendAccountTokens(ctx, tx, t.AccountID, store.TokenReset, now); err != nil {
			return err
		}
		if err := store.VerifyAccount(ctx, tx, t.AccountID, now); err != nil {
			return err
		}
		if err := store.SetAccountPassword(ctx, tx, t.AccountID, hash, now); err != nil {
			return err
		}
		if _, err := store.DeleteOtherSessions(ctx, tx, t.AccountID, ""); err != nil {
			return err
		}
		acc, err := store.AccountByID(ctx, tx, t.AccountID)
		if err != nil {
			return err
		}
		out, err = s.startSession(ctx, tx, acc, c, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("account: password reset", "account", out.AccountID, "ip", c.IP)
	return out, nil
}

// --- password sign-in and the second factor --------------------------------------

// dummyHash is checked against when the address has no account or no password, so the
// answer takes as long as a real check and reveals nothing.
func (s *Service) dummyHash(ctx context.Context) string {
	s.dummyOnce.Do(func() {
		// Not the request's context: a request given up while waiting must not leave
		// every later sign-in without a dummy.
		s.dummy, _ = s.hasher.Hash(context.WithoutCancel(ctx), newSecret())
	})
	return s.dummy
}

// SignInPassword checks an address and password. With 2FA on the session it returns
// waits for the code (CompleteMFA).
func (s *Service) SignInPassword(ctx context.Context, c Client, email, password string) (*SignIn, error) {
	addr, err := ParseAddress(email)
	if err != nil {
		s.failed(c, "", "bad_address")
		return nil, ErrBadCredentials
	}
	if err := s.allow("signin", c, s.limits.SignInIP, addr, s.limits.SignInAccount); err != nil {
		s.failed(c, addr, "throttled")
		return nil, err
	}
	if len(password) > 4*MaxPassword {
		s.failed(c, addr, "too_long")
		return nil, ErrBadCredentials
	}
	acc, err := store.AccountByEmail(ctx, s.st.DB, addr)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	phc := s.dummyHash(ctx)
	if acc != nil && acc.PasswordHash != "" {
		phc = acc.PasswordHash
	}
	ok, rehash, err := s.hasher.Verify(ctx, password, phc)
	if err != nil {
		return nil, err
	}
	if !ok || acc == nil || acc.PasswordHash == "" {
		s.failed(c, addr, "bad_credentials")
		return nil, ErrBadCredentials
	}
	if acc.VerifiedAt == nil {
		s.failed(c, addr, "not_verified")
		return nil, ErrNotVerified
	}
	if rehash {
		if h, err := s.hasher.Hash(ctx, password); err == nil {
			if err := store.SetAccountPassword(ctx, s.st.DB, acc.ID, h, s.clock()); err != nil {
				s.log.Warn("account: rehash", "account", acc.ID, "err", err)
			}
		}
	}
	var out *SignIn
	err = s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		var err error
		out, err = s.startSession(ctx, tx, acc, c, s.clock())
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("account: password accepted", "account", acc.ID, "ip", c.IP, "stage", out.Stage)
	return out, nil
}

// PendingMFA returns the account a half-done sign-in belongs to.
func (s *Service) PendingMFA(ctx context.Context, pendingID string) (*store.Account, error) {
	_, acc, err := s.pending(ctx, pendingID)
	return acc, err
}

func (s *Service) pending(ctx context.Context, id string) (*store.Session, *store.Account, error) {
	if id == "" {
		return nil, nil, ErrNoSession
	}
	row, err := store.GetSession(ctx, s.st.DB, hashSecret(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, err
	}
	if row.Stage != store.SessionMFA || !s.clock().Before(row.ExpiresAt) {
		return nil, nil, ErrNoSession
	}
	acc, err := store.AccountByID(ctx, s.st.DB, row.AccountID)
	return row, acc, err
}

// CompleteMFA checks the second factor of a half-done sign-in and turns it into a full
// session with a new id.
func (s *Service) CompleteMFA(ctx context.Context, c Client, pendingID, code string) (*SignIn, error) {
	row, acc, err := s.pending(ctx, pendingID)
	if err != nil {
		return nil, err
	}
	if err := s.allow("code", c, Rate{}, fmt.Sprint(acc.ID), s.limits.Code); err != nil {
		s.failed(c, acc.Email, "throttled")
		return nil, err
	}
	var out *SignIn
	err = s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		now := s.clock()
		if err := s.checkCode(ctx, tx, acc, code, now); err != nil {
			return err
		}
		if err := store.DeleteSession(ctx, tx, row.IDHash); err != nil {
			return err
		}
		out, err = s.newSession(ctx, tx, acc, c, now, store.SessionFull)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrBadCode) || errors.Is(err, ErrCodeUsed) || errors.Is(err, ErrCodeFormat) {
			s.failed(c, acc.Email, "bad_code")
		}
		return nil, err
	}
	s.log.Info("account: signed in with a second factor", "account", acc.ID, "ip", c.IP)
	return out, nil
}

// checkCode accepts a TOTP code of a step not used before, or an unspent recovery code.
func (s *Service) checkCode(ctx context.Context, tx *sqlx.Tx, acc *store.Account, code string, now time.Time) error {
	c, kind := normalizeCode(code)
	switch kind {
	case CodeTOTP:
		step := matchTOTP(acc.TOTPSecret, c, now)
		if step == 0 {
			return ErrBadCode
		}
		ok, err := store.UseTOTPStep(ctx, tx, acc.ID, step)
		if err != nil {
			return err
		}
		if !ok {
			return ErrCodeUsed
		}
		return nil
	case CodeRecovery:
		ok, err := store.UseRecoveryCode(ctx, tx, acc.ID, hashSecret("recovery:"+c), now)
		if err != nil {
			return err
		}
		if !ok {
			return ErrBadCode
		}
		return nil
	}
	return ErrCodeFormat
}

// --- sessions ------------------------------------------------------------------------

// bounds are a session's idle timeout and absolute lifetime for this account.
func (s *Service) bounds(acc *store.Account) (idle, life time.Duration) {
	idle, life = s.cfg.SessionIdle, s.cfg.SessionLifetime
	if acc.TOTPEnabled {
		idle, life = min(idle, MFAIdleMax), min(life, MFALifetimeMax)
	}
	return idle, life
}

func (s *Service) startSession(ctx context.Context, tx *sqlx.Tx, acc *store.Account, c Client, now time.Time) (*SignIn, error) {
	stage := store.SessionFull
	if acc.TOTPEnabled {
		stage = store.SessionMFA
	}
	return s.newSession(ctx, tx, acc, c, now, stage)
}

// newSession stores a session with a fresh id: every sign-in gets a new one, so an id
// planted before it (fixation) is worth nothing after.
func (s *Service) newSession(ctx context.Context, tx *sqlx.Tx, acc *store.Account, c Client, now time.Time, stage string) (*SignIn, error) {
	id := newSecret()
	_, life := s.bounds(acc)
	if stage == store.SessionMFA {
		life = MFATTL
	}
	ua := c.UserAgent
	if len(ua) > 200 {
		ua = ua[:200]
	}
	err := store.InsertSession(ctx, tx, &store.Session{IDHash: hashSecret(id), AccountID: acc.ID, Stage: stage, IP: c.IP,
		UserAgent: strings.ToValidUTF8(ua, "?"), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(life)})
	if err != nil {
		return nil, err
	}
	return &SignIn{SessionID: id, Stage: stage, AccountID: acc.ID}, nil
}

// Current is a signed-in request's session and account.
type Current struct {
	ID      string // the id from the cookie
	Session *store.Session
	Account *store.Account
}

// Session returns the signed-in session of a cookie's id, or ErrNoSession when it is
// unknown, half-done, idle too long or past its lifetime (such rows are deleted).
func (s *Service) Session(ctx context.Context, id string) (*Current, error) {
	if id == "" || len(id) != 43 {
		return nil, ErrNoSession
	}
	row, err := store.GetSession(ctx, s.st.DB, hashSecret(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	if row.Stage != store.SessionFull {
		return nil, ErrNoSession
	}
	acc, err := store.AccountByID(ctx, s.st.DB, row.AccountID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	idle, life := s.bounds(acc)
	if !now.Before(row.ExpiresAt) || now.Sub(row.CreatedAt) >= life || now.Sub(row.LastSeenAt) >= idle {
		if err := store.DeleteSession(ctx, s.st.DB, row.IDHash); err != nil {
			s.log.Warn("account: delete expired session", "err", err)
		}
		return nil, ErrNoSession
	}
	if now.Sub(row.LastSeenAt) >= touchEvery {
		if err := store.TouchSession(ctx, s.st.DB, row.IDHash, now); err != nil {
			return nil, err
		}
		row.LastSeenAt = now
	}
	return &Current{ID: id, Session: row, Account: acc}, nil
}

// SignOut ends a session (full or half-done); an unknown id is no error.
func (s *Service) SignOut(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	return store.DeleteSession(ctx, s.st.DB, hashSecret(id))
}

// SignOutOthers ends every session of the account but cur, and says how many.
func (s *Service) SignOutOthers(ctx context.Context, cur *Current) (int64, error) {
	return store.DeleteOtherSessions(ctx, s.st.DB, cur.Account.ID, cur.Session.IDHash)
}

// Sessions lists the account's signed-in sessions.
func (s *Service) Sessions(ctx context.Context, cur *Current) ([]store.Session, error) {
	return store.ListSessions(ctx, s.st.DB, cur.Account.ID)
}

// --- account settings ------------------------------------------------------------------

// ChangePassword sets a new password after checking the current one (not asked when
// the account has none yet), and ends every other session.
func (s *Service) ChangePassword(ctx context.Context, c Client, cur *Current, current, next string) error {
	if err := s.allow("signin", c, s.limits.SignInIP, cur.Account.Email, s.limits.SignInAccount); err != nil {
		return err
	}
	if cur.Account.PasswordHash != "" {
		ok, _, err := s.hasher.Verify(ctx, current, cur.Account.PasswordHash)
		if err != nil {
			return err
		}
		if !ok {
			s.failed(c, cur.Account.Email, "wrong_current_password")
			return ErrWrongPassword
		}
	}
	if err := CheckPassword(next, cur.Account.Email, s.brandName()); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	return s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		if err := store.SetAccountPassword(ctx, tx, cur.Account.ID, hash, s.clock()); err != nil {
			return err
		}
		_, err := store.DeleteOtherSessions(ctx, tx, cur.Account.ID, cur.Session.IDHash)
		return err
	})
}

// SetLanguage records the customer's language for pages and mail ("" follows the browser).
func (s *Service) SetLanguage(ctx context.Context, cur *Current, lang string) error {
	return store.SetAccountLanguage(ctx, s.st.DB, cur.Account.ID, lang, s.clock())
}

// BeginTOTP starts (or continues) setting up a second factor: the secret stays pending
// until a code from it is confirmed.
func (s *Service) BeginTOTP(ctx context.Context, cur *Current) (TOTPSetup, error) {
	if cur.Account.TOTPPending != "" {
		return setupOf(s.issuer(), cur.Account.Email, cur.Account.TOTPPending), nil
	}
	setup, err := newTOTP(s.issuer(), cur.Account.Email)
	if err != nil {
		return TOTPSetup{}, err
	}
	if err := store.SetTOTPPending(ctx, s.st.DB, cur.Account.ID, setup.Secret, s.clock()); err != nil {
		return TOTPSetup{}, err
	}
	cur.Account.TOTPPending = setup.Secret
	return setup, nil
}

func (s *Service) issuer() string {
	if b := s.brandName(); b != "" {
		return b
	}
	return "mxdesk"
}

// ConfirmTOTP turns the second factor on once a code from the pending secret is right,
// and returns the recovery codes, to be shown this once.
func (s *Service) ConfirmTOTP(ctx context.Context, c Client, cur *Current, code string) ([]string, error) {
	if cur.Account.TOTPPending == "" {
		return nil, ErrNoPendingTOTP
	}
	if err := s.allow("code", c, Rate{}, fmt.Sprint(cur.Account.ID), s.limits.Code); err != nil {
		return nil, err
	}
	norm, kind := normalizeCode(code)
	if kind != CodeTOTP {
		return nil, ErrCodeFormat
	}
	step := matchTOTP(cur.Account.TOTPPending, norm, s.clock())
	if step == 0 {
		return nil, ErrBadCode
	}
	shown, hashes := newRecoveryCodes()
	err := s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		return store.EnableTOTP(ctx, tx, cur.Account.ID, cur.Account.TOTPPending, step, hashes, s.clock())
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoPendingTOTP
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("account: two-factor authentication on", "account", cur.Account.ID, "ip", c.IP)
	return shown, nil
}

// DisableTOTP turns the second factor off; it takes the password (when the account has
// one) and a current code.
func (s *Service) DisableTOTP(ctx context.Context, c Client, cur *Current, password, code string) error {
	if err := s.allow("code", c, Rate{}, fmt.Sprint(cur.Account.ID), s.limits.Code); err != nil {
		return err
	}
	if cur.Account.PasswordHash != "" {
		ok, _, err := s.hasher.Verify(ctx, password, cur.Account.PasswordHash)
		if err != nil {
			return err
		}
		if !ok {
			s.failed(c, cur.Account.Email, "wrong_current_password")
			return ErrWrongPassword
		}
	}
	err := s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		now := s.clock()
		if err := s.checkCode(ctx, tx, cur.Account, code, now); err != nil {
			return err
		}
		return store.DisableTOTP(ctx, tx, cur.Account.ID, now)
	})
	if err != nil {
		return err
	}
	s.log.Info("account: two-factor authentication off", "account", cur.Account.ID, "ip", c.IP)
	return nil
}

// RecoveryCodesLeft counts the account's unspent recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, cur *Current) (int, error) {
	return store.RecoveryCodesLeft(ctx, s.st.DB, cur.Account.ID)
}

// Purge deletes expired sessions and links (the cleanup job).
func (s *Service) Purge(ctx context.Context) (int64, error) {
	return store.PurgeAccounts(ctx, s.st.DB, s.clock())
}
