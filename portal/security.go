package portal

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// csp allows nothing but this origin's stylesheet, images (inline attachments, and the
// 2FA QR code as a data: URI; the brand logo's origin when one is configured, see
// policies) and forms: no script at all, no remote trackers loaded by a customer's HTML,
// no framing (clickjacking).
const csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// protect sets the security headers on every response and refuses cross-origin
// state changes. net/http's CrossOriginProtection checks Sec-Fetch-Site (and Origin
// against Host for older browsers) on every non-GET/HEAD/OPTIONS request; with the
// SameSite=Lax session cookie that is the CSRF defence: no token in the forms.
func (s *Server) protect(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := s.pageLang(r, nil)
		s.log.Warn("portal: cross-origin request refused", "method", r.Method, "path", r.URL.Path, "ip", s.clientIP(r),
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		t := accountTexts[l]
		s.message(w, http.StatusForbidden, l, t["forbidden_title"], t["cross_origin"])
	}))
	h := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", s.csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// clientIP is the address throttles and logs see. Behind the HTTPS proxy on the same
// host every peer is the proxy, so when the peer is a trusted proxy the client is the
// rightmost X-Forwarded-For entry that is not itself a trusted proxy (entries left of
// it were written by the client and prove nothing). From any other peer the header is
// ignored: a client cannot choose the address it is throttled by.
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed entry: trust nothing left of it
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a.String()
		}
		peer = a
	}
	return peer.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// logoHost is what a logo URL's host may look like to be put into the CSP: a name, an
// IPv4 address or a bracketed IPv6 one, and a port; nothing that could end the directive.
var logoHost = regexp.MustCompile(`^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$`)

// logoOrigin returns the origin ("https://cdn.example.com") of an absolute http(s)
// logo URL, or "" when there is none or it is not one the CSP can name safely (then
// no logo is shown).
func logoOrigin(logoURL string) string {
	u, err := url.Parse(logoURL)
	if logoURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || !logoHost.MatchString(u.Host) {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// policies sets the portal's CSP and the knowledge base's variant of it. With a brand
// logo configured its origin joins img-src, exactly that origin and only for images:
// the header shows the logo while every other image still comes from here.
func (s *Server) policies(logoURL string) {
	s.csp, s.logo = csp, ""
	if o := logoOrigin(logoURL); o != "" {
		s.csp = strings.Replace(csp, "img-src 'self' data:", "img-src 'self' data: "+o, 1)
		s.logo = logoURL
	}
	s.kbCSP = s.csp + kbScripts
}

// formScripts is added to the policy of the pages with an upload form (formScriptViews)
// for static/forms.js: drag-and-drop onto the attachments, Ctrl+Enter to send. Scripts
// from this origin only; the knowledge base's policy (kbScripts) allows them as well.
const formScripts = "; script-src 'self'"

var formScriptViews = map[string]bool{"newticket": true, "myticket": true}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{3,8}$`)

// cssColor lets only a hex colour into the stylesheet.
func cssColor(c string) string {
	if hexColor.MatchString(c) {
		return c
	}
	return "#1f6feb"
}

func (s *Server) stylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(s.currentBrand().css)
}
