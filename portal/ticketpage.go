package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// ticketView is what /my-tickets/{id} shows.
type ticketView struct {
	Ticket                    *store.Ticket
	Status, Priority, Created string
	ResponseBy, ResolutionBy  string
	Fields                    []store.Field
	View                      []viewMessage
	SLA, OutsideHours         string
	CanClose, CanRate, Rated  bool
	Stars                     []int
	Options                   []rateGroup
	AttachLimit               string
	Original                  string
}

type rateGroup struct {
	Stars   string
	Options []option
}

// RateOption is a predefined answer of the feedback form, offered with its number of
// stars and stored as the rating's choice, in the customer's language.
type RateOption struct {
	Stars  int
	EN, DE string // DE empty: EN
}

// label is the option in language l.
func (o RateOption) label(l string) string {
	if l == "de" && o.DE != "" {
		return o.DE
	}
	return o.EN
}

// BuiltinRateOptions are offered when the configuration has none: two per number of
// stars.
func BuiltinRateOptions() []RateOption {
	return []RateOption{
		{5, "Quick answer", "Schnelle Antwort"}, {5, "Problem solved", "Problem gelöst"},
		{4, "Helpful", "Hilfreich"}, {4, "Friendly", "Freundlich"},
		{3, "Took a while", "Hat gedauert"}, {3, "Partly solved", "Teilweise gelöst"},
		{2, "Slow answer", "Langsame Antwort"}, {2, "Not solved", "Nicht gelöst"},
		{1, "No useful answer", "Keine brauchbare Antwort"}, {1, "Unfriendly", "Unfreundlich"},
	}
}

// customerTicket loads the ticket named by the path if the customer may see it (the
// scope is store.CustomerTicket's); false means the 404 was written.
func (s *Server) customerTicket(w http.ResponseWriter, r *http.Request, cur *account.Current, l string) (*store.Ticket, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.notFound(w, l)
		return nil, false
	}
	tk, err := store.CustomerTicket(r.Context(), s.st.DB, cur.Account.ContactID, id)
	if errors.Is(err, store.ErrNotFound) {
		s.notFound(w, l)
		return nil, false
	}
	if err != nil {
		s.fail(w, l, err)
		return nil, false
	}
	return tk, true
}

func (s *Server) ticketPage(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	l := s.pageLang(r, cur)
	tk, ok := s.customerTicket(w, r, cur, l)
	if !ok {
		return
	}
	s.renderTicket(w, r, cur, l, tk, http.StatusOK, "", flash(r, accountTexts[l]))
}

// flash turns ?done=… into the page's words (keys only, never text from the request).
func flash(r *http.Request, t map[string]string) string {
	switch d := r.URL.Query().Get("done"); d {
	case "closed", "reply", "rate":
		return t[map[string]string{"closed": "closed_done", "reply": "reply_done", "rate": "rate_done"}[d]]
	case "created":
		n, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		return fmt.Sprintf(t["created_done"], n)
	}
	if from, err := strconv.ParseInt(r.URL.Query().Get("continued"), 10, 64); err == nil {
		n, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		return fmt.Sprintf(t["reply_new"], n, from)
	}
	return ""
}

func (s *Server) renderTicket(w http.ResponseWriter, r *http.Request, cur *account.Current, l string, tk *store.Ticket, status int, errText, flashText string) {
	ctx := r.Context()
	t := accountTexts[l]
	base := "/my-tickets/" + strconv.FormatInt(tk.ID, 10)
	shown, newest, err := s.conversation(ctx, tk, base+"/attachments/", func(id int64) string {
		return base + "/messages/" + strconv.FormatInt(id, 10) + "/raw"
	})
	if err != nil {
		s.fail(w, l, err)
		return
	}
	fields, err := store.ListFields(ctx, s.st.DB, tk.ID)
	if err != nil {
		s.fail(w, l, err)
		return
	}
	rated, err := ticket.Rated(ctx, s.st, tk.ID)
	if err != nil {
		s.fail(w, l, err)
		return
	}
	now := time.Now()
	row := s.row(t, l, tk, false, now)
	v := ticketView{Ticket: tk, Status: outbound.StatusName(l, tk.Status), Priority: t["prio_"+tk.Priority], Created: s.when(tk.CreatedAt),
		ResponseBy: row.ResponseBy, ResolutionBy: row.ResolutionBy, Fields: fields, View: shown,
		SLA: s.tickets.SLA().Expectation(l, tk.Priority), CanClose: tk.Status != ticket.StatusClosed,
		CanRate: tk.Status == ticket.StatusClosed && !rated, Rated: rated, Stars: []int{5, 4, 3, 2, 1},
		AttachLimit: fmt.Sprintf(t["attach_limit"], maxFiles, humanSize(s.tk.MaxUpload)), Original: texts[l]["original"]}
	if tk.OutsideHours && tk.FirstRespondedAt == nil && tk.ResponseBy != nil {
		v.OutsideHours = fmt.Sprintf(t["outside_hours_until"], tk.ResponseBy.In(s.tk.Location).Format("Monday 15:04 MST"))
		if l == "de" {
			v.OutsideHours = fmt.Sprintf(t["outside_hours_until"], germanWeekday(tk.ResponseBy.In(s.tk.Location)))
		}
	}
	for _, n := range v.Stars {
		g := rateGroup{Stars: fmt.Sprintf(t["stars"], n)}
		for _, o := range s.tk.RateOptions {
			if o.Stars == n {
				g.Options = append(g.Options, option{Value: o.label(l), Label: o.label(l)})
			}
		}
		if len(g.Options) > 0 {
			v.Options = append(v.Options, g)
		}
	}
	if status == http.StatusOK && newest > 0 {
		if err := store.MarkSeen(ctx, s.st.DB, cur.Account.ID, tk.ID, newest); err != nil {
			s.log.Warn("portal: mark seen", "ticket", tk.ID, "err", err)
		}
	}
	s.render(w, status, "myticket", page{Lang: l, Title: fmt.Sprintf("#%d %s", tk.ID, tk.Subject), Signed: cur.Account.Email,
		Data: v, Flash: flashText, Form: form{Error: errText}})
}

func germanWeekday(t time.Time) string {
	days := []string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"}
	return days[t.Weekday()] + " " + t.Format("15:04 MST")
}

// maxBody bounds a message typed into the portal, in characters.
const maxBody = 100_000

// reply adds the customer's message (and files) through the ticket service; a reply to
// a ticket closed longer than the reopen window opens a new, linked one.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	l := s.pageLang(r, cur)
	t := accountTexts[l]
	tk, ok := s.customerTicket(w, r, cur, l)
	if !ok {
		return
	}
	up, ok := s.readUpload(w, r, l)
	if !ok {
		return
	}
	defer up.close()
	body := strings.TrimSpace(up.values["body"])
	switch {
	case body == "" && len(up.files) == 0:
		s.renderTicket(w, r, cur, l, tk, http.StatusBadRequest, t["body_empty"], "")
		return
	case utf8.RuneCountInString(body) > maxBody:
		s.renderTicket(w, r, cur, l, tk, http.StatusBadRequest, fmt.Sprintf(t["body_long"], maxBody), "")
		return
	}
	target, err := s.tickets.ReplyFromPortal(r.Context(), tk.ID, s.person(r.Context(), cur), body, up.files)
	if err != nil {
		s.fail(w, l, err)
		return
	}
	s.log.Info("portal: customer replied", "ticket", tk.ID, "to", target, "files", len(up.files))
	if target != tk.ID {
		http.Redirect(w, r, fmt.Sprintf("/my-tickets/%d?continued=%d", target, tk.ID), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/my-tickets/%d?done=reply", tk.ID), http.StatusSeeOther)
}

// person is the signed-in customer as the author of a message.
func (s *Server) person(ctx context.Context, cur *account.Current) ticket.Person {
	p := ticket.Person{Email: cur.Account.Email}
	if c, err := store.Contact(ctx, s.st.DB, cur.Account.ContactID); err == nil {
		p.Name = c.Name
	}
	return p
}

func (s *Server) closeTicket(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	l := s.pageLang(r, cur)
	t := accountTexts[l]
	tk, ok := s.customerTicket(w, r, cur, l)
	if !ok {
		return
	}
	err := s.tickets.CloseByCustomer(r.Context(), tk.ID, "customer (portal)")
	if errors.Is(err, ticket.ErrAlreadyClosed) {
		s.renderTicket(w, r, cur, l, tk, http.StatusConflict, t["already_closed"], "")
		return
	}
	if err != nil {
		s.fail(w, l, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/my-tickets/%d?done=closed", tk.ID), http.StatusSeeOther)
}

func (s *Server) rate(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	l := s.pageLang(r, cur)
	t := accountTexts[l]
	tk, ok := s.customerTicket(w, r, cur, l)
	if !ok {
		return
	}
	if !s.parseForm(w, r, l) {
		return
	}
	rating, err := strconv.Atoi(r.PostFormValue("rating"))
	if err != nil || rating < 1 || rating > 5 {
		s.renderTicket(w, r, cur, l, tk, http.StatusBadRequest, t["bad_rating"], "")
		return
	}
	opt := r.PostFormValue("option")
	if opt != "" && !s.validOption(rating, opt) {
		s.renderTicket(w, r, cur, l, tk, http.StatusBadRequest, t["bad_option"], "")
		return
	}
	comment := strings.TrimSpace(r.PostFormValue("comment"))
	if utf8.RuneCountInString(comment) > 4000 {
		s.renderTicket(w, r, cur, l, tk, http.StatusBadRequest, fmt.Sprintf(t["body_long"], 4000), "")
		return
	}
	err = s.tickets.RateByCustomer(r.Context(), tk.ID, rating, opt, comment, "customer (portal)")
	if errors.Is(err, ticket.ErrAlreadyRated) {
		s.renderTicket(w, r, cur, l, tk, http.StatusConflict, t["already_rated"], "")
		return
	}
	if err != nil {
		s.fail(w, l, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/my-tickets/%d?done=rate", tk.ID), http.StatusSeeOther)
}

// validOption says whether an option is one offered for that many stars, in any
// language (the page may have been in the other one).
func (s *Server) validOption(rating int, opt string) bool {
	for _, o := range s.tk.RateOptions {
		if o.Stars == rating && (opt == o.label("en") || opt == o.label("de")) {
			return true
		}
	}
	return false
}

func (s *Server) attachment(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	s.customerFile(w, r, cur, "attachment", false)
}

func (s *Server) rawMessage(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	s.customerFile(w, r, cur, "message", true)
}

func (s *Server) customerFile(w http.ResponseWriter, r *http.Request, cur *account.Current, param string, raw bool) {
	l := s.pageLang(r, cur)
	tk, ok := s.customerTicket(w, r, cur, l)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue(param), 10, 64)
	if err != nil {
		s.notFound(w, l)
		return
	}
	s.sendFile(w, r, l, tk.ID, id, raw, func() { s.notFound(w, l) })
}
