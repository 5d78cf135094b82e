package portal

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// Template is a ticket template: a text above the form, a pre-filled description and
// extra fields whose values are stored with the ticket.
type Template struct {
	Name   string
	About  string
	Body   string
	Fields []TemplateField
}

// TemplateField is one extra field of a template (form field "field_<Name>").
type TemplateField struct {
	Name     string
	Label    string
	Type     string // text, textarea, select, checkbox, date, number
	Required bool
	Options  []string // for select
}

// FieldTypes are the types a template field may have.
var FieldTypes = []string{"text", "textarea", "select", "checkbox", "date", "number"}

// BuiltinTemplates are offered when the configuration has none.
func BuiltinTemplates() []Template {
	return []Template{
		{Name: "Bug Report", About: "Tell us how to reproduce it.", Body: "Steps to reproduce:\n\nExpected:\n\nActual:\n"},
		{Name: "Feature Request", About: "Tell us what you would like and why.", Body: "Desired functionality:\n\nUse case:\n"},
		{Name: "General Question", About: "Ask us anything.", Body: "Context:\n"},
	}
}

const (
	maxSubject = 250
	maxCc      = 10
	maxValue   = 2000
)

// newView is what the new-ticket form shows.
type newView struct {
	Templates              []option
	Template               *Template
	TemplateName           string
	Subject, Body, Cc      string
	High, CustomerPriority bool
	Values                 map[string]string
	AttachLimit            string
}

func (s *Server) template(name string) *Template {
	for i := range s.tk.Templates {
		if s.tk.Templates[i].Name == name {
			return &s.tk.Templates[i]
		}
	}
	return nil
}

func (s *Server) newView(l, name string) newView {
	t := accountTexts[l]
	v := newView{TemplateName: name, Template: s.template(name), CustomerPriority: s.tk.CustomerPriority, Values: map[string]string{},
		AttachLimit: fmt.Sprintf(t["attach_limit"], maxFiles, humanSize(s.tk.MaxUpload))}
	for _, tp := range s.tk.Templates {
		v.Templates = append(v.Templates, option{Value: tp.Name, Label: tp.Name, Selected: tp.Name == name})
	}
	if v.Template != nil {
		v.Body = v.Template.Body
	}
	return v
}

func (s *Server) newTicketForm(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	l := s.pageLang(r, cur)
	t := accountTexts[l]
	name := r.URL.Query().Get("template")
	if name != "" && s.template(name) == nil {
		s.render(w, http.StatusBadRequest, "newticket", page{Lang: l, Title: t["new_title"], Signed: cur.Account.Email,
			Data: s.newView(l, ""), Form: form{Error: t["unknown_template"]}})
		return
	}
	s.render(w, http.StatusOK, "newticket", page{Lang: l, Title: t["new_title"], Signed: cur.Account.Email, Data: s.newView(l, name)})
}

// newTicket opens a ticket through the ticket service, as mail would: acknowledgement,
// agents' mail, SLA. Every refusal shows the form again with what was typed and why.
func (s *Server) newTicket(w http.ResponseWriter, r *http.Request, cur *account.Current) {
	l := s.pageLang(r, cur)
	t := accountTexts[l]
	up, ok := s.readUpload(w, r, l)
	if !ok {
		return
	}
	defer up.close()
	v := s.newView(l, up.values["template"])
	v.Subject = strings.TrimSpace(up.values["subject"])
	v.Body = strings.TrimSpace(up.values["description"])
	v.Cc = up.values["cc"]
	v.High = up.values["priority"] == ticket.PriorityHigh
	refuse := func(msg string) {
		s.render(w, http.StatusBadRequest, "newticket", page{Lang: l, Title: t["new_title"], Signed: cur.Account.Email, Data: v, Form: form{Error: msg}})
	}
	if up.values["template"] != "" && v.Template == nil {
		v.TemplateName = ""
		refuse(t["unknown_template"])
		return
	}
	switch {
	case v.Subject == "":
		refuse(t["subject_empty"])
		return
	case utf8.RuneCountInString(v.Subject) > maxSubject:
		v.Subject = ""
		refuse(fmt.Sprintf(t["subject_long"], maxSubject))
		return
	case utf8.RuneCountInString(v.Body) > maxBody:
		refuse(fmt.Sprintf(t["body_long"], maxBody))
		return
	}
	priority := ""
	if p := up.values["priority"]; p != "" {
		if !s.tk.CustomerPriority || p != ticket.PriorityHigh {
			refuse(t["bad_priority"])
			return
		}
		priority = p
	}
	var cc []ticket.Person
	for _, a := range strings.Split(v.Cc, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		addr, err := account.ParseAddress(a)
		if err != nil {
			refuse(fmt.Sprintf(t["bad_cc"], a))
			return
		}
		cc = append(cc, ticket.Person{Email: addr})
	}
	if len(cc) > maxCc {
		refuse(fmt.Sprintf(t["too_many_cc"], maxCc))
		return
	}
	var fields []store.Field
	if v.Template != nil {
		for _, f := range v.Template.Fields {
			val := strings.TrimSpace(up.values["field_"+f.Name])
			v.Values[f.Name] = val
			if msg := checkField(t, f, val); msg != "" {
				refuse(msg)
				return
			}
			if f.Type == "checkbox" {
				val = map[bool]string{true: t["yes"], false: t["no"]}[val != ""]
			}
			if val != "" || f.Type == "checkbox" {
				fields = append(fields, store.Field{Name: f.Name, Label: f.Label, Value: val})
			}
		}
	}
	if v.Body == "" && len(fields) == 0 {
		refuse(t["body_empty"])
		return
	}
	teamID, err := store.EnsureTeam(r.Context(), s.st.DB, s.tk.Team)
	if err != nil {
		s.fail(w, l, err)
		return
	}
	id, err := s.tickets.CreateFromPortal(r.Context(), ticket.PortalTicket{From: s.person(r.Context(), cur), Subject: v.Subject,
		Text: v.Body, Priority: priority, TeamID: teamID, Mailbox: s.tk.Mailbox, Cc: cc, Files: up.files, Fields: fields})
	if err != nil {
		s.fail(w, l, err)
		return
	}
	s.log.Info("portal: ticket opened", "ticket", id, "account", cur.Account.ID, "files", len(up.files), "template", v.TemplateName)
	http.Redirect(w, r, "/my-tickets/"+strconv.FormatInt(id, 10)+"?done=created", http.StatusSeeOther)
}

// checkField says what is wrong with a template field's value, or "".
func checkField(t map[string]string, f TemplateField, val string) string {
	label := f.Label
	if label == "" {
		label = f.Name
	}
	switch {
	case val == "" && f.Required:
		return fmt.Sprintf(t["field_required"], label)
	case val == "":
		return ""
	case utf8.RuneCountInString(val) > maxValue:
		return fmt.Sprintf(t["field_long"], label, maxValue)
	}
	switch f.Type {
	case "select":
		if !slices.Contains(f.Options, val) {
			return fmt.Sprintf(t["field_option"], label)
		}
	case "number":
		if _, err := strconv.ParseFloat(val, 64); err != nil {
			return fmt.Sprintf(t["field_number"], label)
		}
	case "date":
		if _, err := time.Parse("2006-01-02", val); err != nil {
			return fmt.Sprintf(t["field_date"], label)
		}
	}
	return ""
}
