package portal

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// TicketOptions configure the signed-in customer's ticket pages.
type TicketOptions struct {
	// Mailbox and Team receive the tickets opened in the portal (the first mailbox).
	Mailbox, Team string
	// CustomerPriority lets customers mark a new ticket as high priority.
	CustomerPriority bool
	// Templates are offered on the new-ticket form; none: BuiltinTemplates.
	Templates []Template
	// MaxUpload bounds the attachments of one form, as the SMTP size limit bounds a mail.
	MaxUpload int64
	// Location is the organisation's time zone; times are shown in it, named.
	Location *time.Location
	// RateOptions are the feedback form's predefined answers; none: BuiltinRateOptions.
	RateOptions []RateOption
}

// maxFiles is how many attachments one form may carry.
const maxFiles = 20

// WithTickets turns on the customer's ticket pages (needs WithAccounts).
func WithTickets(o TicketOptions) Option {
	return func(s *Server) {
		if len(o.Templates) == 0 {
			o.Templates = BuiltinTemplates()
		}
		if len(o.RateOptions) == 0 {
			o.RateOptions = BuiltinRateOptions()
		}
		if o.MaxUpload <= 0 {
			o.MaxUpload = 25 << 20
		}
		if o.Location == nil {
			o.Location = time.UTC
		}
		s.tk = &o
	}
}

// pageSize is how many tickets /my-tickets shows at once.
const pageSize = 25

// listView is what /my-tickets and the home page show.
type listView struct {
	Rows                      []ticketRow
	Status, Priority, Q, Sort string
	Statuses, Priorities      []option
	Page, Pages, Total        int
	PrevURL, NextURL          string
	Active                    int
	Breakdown                 []countRow
	SupportAddress            string
}

type ticketRow struct {
	ID                                int64
	Subject, Status, Priority, Team   string
	Created, ResponseBy, ResolutionBy string
	Unseen                            bool
}

type option struct {
	Value, Label string
	Selected     bool
}

type countRow struct {
	Label string
	N     int
	URL   string
}

var statusOrder = []string{ticket.StatusOpen, ticket.StatusInProgress, ticket.StatusResolved, ticket.StatusClosed}
var priorityOrder = []string{ticket.PriorityUrgent, ticket.PriorityHigh, ticket.PriorityMedium, ticket.PriorityLow}

// visibleKinds are the message kinds a customer sees, and searches.
var visibleKinds = []string{ticket.MsgCustomer, ticket.MsgAgent}

// due says how a deadline stands: "due in 3 h", "answered", "overdue".
func (s *Server) due(t map[string]string, deadline, done *time.Time, now time.Time) string {
	switch {
	case done != nil:
		return t["met"]
	case deadline == nil:
		return t["none"]
	case now.After(*deadline):
		return t["overdue"]
	}
	d := deadline.Sub(now)
	var amount string
	switch {
	case d >= 48*time.Hour:
		amount = fmt.Sprintf("%d d", int(d.Hours()/24))
	case d >= time.Hour:
		amount = fmt.Sprintf("%d h", int(d.Hours()))
	default:
		amount = fmt.Sprintf("%d min", max(1, int(d.Minutes())))
	}
	return fmt.Sprintf(t["due_in"], amount)
}

func (s *Server) row(t map[string]string, l string, tk *store.Ticket, unseen bool, now time.Time) ticketRow {
	response := s.due(t, tk.ResponseBy, tk.FirstRespondedAt, now)
	if tk.FirstRespondedAt != nil {
		response = t["answered"]
	}
	var resolved *time.Time
	if tk.ResolvedAt != nil {
		resolved = tk.ResolvedAt
	} else if tk.ClosedAt != nil {
		resolved = tk.ClosedAt
	}
	return ticketRow{ID: tk.ID, Subject: tk.Subject, Status: outbound.StatusName(l, tk.Status), Priority: t["prio_"+tk.Priority],
		Team: tk.Team, Created: s.when(tk.CreatedAt), ResponseBy: response, ResolutionBy: s.due(t, tk.ResolutionBy, resolved, now), Unseen: unseen}
}

// home is the start page: for a signed-in customer quick actions, counts and the five
// most recent tickets; signed out, the ways in.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	cur := s.current(r)
	if cur == nil || s.tk == nil {
		s.homeSignedOut(w, r, cur)
		return
	}
	l := s.pageLang(r, cur)
	t := accountTexts[l]
	ctx := r.Context()
	counts, err := store.CustomerStatusCounts(ctx, s.st.DB, cur.Account.ContactID)
	if err != nil {
		s.fail(w, l, err)
		return
	}
	rows, _, err := store.CustomerTickets(ctx, s.st.DB, cur.Account.ContactID, cur.Account.ID,
		store.CustomerFilter{SortByUpdated: true, Limit: 5}, visibleKinds)
	if err != nil {
		s.fail(w, l, err)
		return
	}
	v := listView{}
	now := time.Now()
	for _, st := range statusOrder {
		if st != ticket.StatusClosed {
			v.Active += counts[st]
		}
		v.Breakdown = append(v.Breakdown, countRow{Label: outbound.StatusName(l, st), N: counts[st], URL: "/my-tickets?status=" + st})
	}
	for i := range rows {
		v.Rows = append(v.Rows, s.row(t, l, &rows[i].Ticket, rows[i].Unseen(), now))
	}
	s.render(w, http.StatusOK, "home", page{Lang: l, Title: t["home_title"], Signed: cur.Account.Email, Data: v})
}

func (s *Server) homeSignedOut(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	l := s.pageLang(r, cur)
	if s.accounts == nil {
		s.message(w, http.StatusOK, l, s.currentBrand().Name, map[string]string{
			"en": "To reach us, write an email to our support address. The links in our emails lead to your ticket.",
			"de": "Schreiben Sie uns eine E-Mail an unsere Support-Adresse. Die Links in unseren E-Mails führen zu Ihrem Ticket.",
		}[l])
		return
	}
	support := "support"
	if s.tk != nil {
		support = s.tk.Mailbox
	}
	t := accountTexts[l]
	v := listView{SupportAddress: support}
	p := page{Lang: l, Title: s.currentBrand().Name, Heading: s.currentBrand().Name, Text: fmt.Sprintf(t["home_signed_out"], support), Data: v}
	if cur != nil {
		p.Signed = cur.Account.Email
	}
	s.render(w, http.StatusOK, "home", p)
}

// myTickets lists the customer's tickets: filtered by status and priority, searched,
// sorted, 25 a page; every choice is a query parameter, so a filtered view is a link.
func (s *Server) myTickets(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	l := s.pageLang(r, cur)
	t := accountTexts[l]
	q := r.URL.Query()
	v := listView{Status: q.Get("status"), Priority: q.Get("priority"), Q: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort")}
	f := store.CustomerFilter{Limit: pageSize, SortByUpdated: v.Sort == "updated", Search: v.Q}
	if ticket.ValidStatus(v.Status) {
		f.Statuses = []string{v.Status}
	} else {
		v.Status = ""
	}
	if ticket.ValidPriority(v.Priority) {
		f.Priority = v.Priority
	} else {
		v.Priority = ""
	}
	if v.Sort != "updated" {
		v.Sort = "created"
	}
	if len(v.Q) > 200 {
		v.Q = v.Q[:200]
		f.Search = v.Q
	}
	v.Page, _ = strconv.Atoi(q.Get("page"))
	v.Page = max(1, min(v.Page, 100000))
	f.Offset = (v.Page - 1) * pageSize
	rows, total, err := store.CustomerTickets(r.Context(), s.st.DB, cur.Account.ContactID, cur.Account.ID, f, visibleKinds)
	if err != nil {
		s.fail(w, l, err)
		return
	}
	now := time.Now()
	for i := range rows {
		v.Rows = append(v.Rows, s.row(t, l, &rows[i].Ticket, rows[i].Unseen(), now))
	}
	v.Total, v.Pages = total, max(1, (total+pageSize-1)/pageSize)
	link := func(page int) string {
		u := url.Values{}
		for k, val := range map[string]string{"status": v.Status, "priority": v.Priority, "q": v.Q} {
			if val != "" {
				u.Set(k, val)
			}
		}
		if v.Sort == "updated" {
			u.Set("sort", "updated")
		}
		if page > 1 {
			u.Set("page", strconv.Itoa(page))
		}
		if len(u) == 0 {
			return "/my-tickets"
		}
		return "/my-tickets?" + u.Encode()
	}
	if v.Page > 1 {
		v.PrevURL = link(v.Page - 1)
	}
	if v.Page < v.Pages {
		v.NextURL = link(v.Page + 1)
	}
	v.Statuses = []option{{"", t["status_all"], v.Status == ""}}
	for _, st := range statusOrder {
		v.Statuses = append(v.Statuses, option{st, outbound.StatusName(l, st), v.Status == st})
	}
	v.Priorities = []option{{"", t["priority_all"], v.Priority == ""}}
	for _, p := range priorityOrder {
		v.Priorities = append(v.Priorities, option{p, t["prio_"+p], v.Priority == p})
	}
	s.render(w, http.StatusOK, "mytickets", page{Lang: l, Title: t["my_tickets"], Signed: cur.Account.Email, Data: v})
}

// notFound is the answer for any id that is not the customer's: the same 404 whether
// it exists for someone else or not at all.
func (s *Server) notFound(w http.ResponseWriter, l string) {
	t := accountTexts[l]
	s.message(w, http.StatusNotFound, l, t["not_found_title"], t["not_found"])
}
