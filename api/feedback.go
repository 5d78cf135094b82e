package api

import (
	"errors"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/mxdesk/mxdesk/store"
)

// FeedbackReport is the customers' ratings of a period and their summary: what people
// use to recognise agents and to measure satisfaction. `mxdesk feedback report` prints
// the same.
type FeedbackReport struct {
	Since   time.Time      `json:"since"`
	Until   time.Time      `json:"until"`
	Summary Summary        `json:"summary"`
	Teams   []GroupSummary `json:"teams"`
	// Agents: each rating counts for every agent who replied on the ticket.
	Agents  []GroupSummary `json:"agents"`
	Ratings []Rating       `json:"ratings"`
}

// Summary sums up ratings: how many, the average stars, the share of 4 and 5 stars
// (0 to 1), and how many of each star count (index 0 is one star).
type Summary struct {
	Count    int     `json:"count"`
	Average  float64 `json:"average"`
	Positive float64 `json:"positive_share"`
	Stars    [5]int  `json:"stars"`
}

// GroupSummary is the summary of one team's or one agent's ratings.
type GroupSummary struct {
	Name string `json:"name"`
	Summary
}

// Rating is one customer's rating of a ticket.
type Rating struct {
	ID       int64 `json:"id"`
	TicketID int64 `json:"ticket_id"`
	Rating   int   `json:"rating"`
	// Choice is what the customer clicked: a star count ("4") or an option ("good").
	Choice    string    `json:"choice"`
	Comment   string    `json:"comment"`
	Team      TeamRef   `json:"team"`
	Agents    []string  `json:"agents"`
	CreatedAt time.Time `json:"created_at"`
}

// BuildFeedbackReport sums up rows of the period [since, until).
func BuildFeedbackReport(rows []store.FeedbackRow, since, until time.Time) FeedbackReport {
	rep := FeedbackReport{Since: since.UTC(), Until: until.UTC(), Teams: []GroupSummary{}, Agents: []GroupSummary{}, Ratings: []Rating{}}
	var all []int
	teams, agents := map[string][]int{}, map[string][]int{}
	for _, f := range rows {
		all = append(all, f.Rating)
		teams[f.Team] = append(teams[f.Team], f.Rating)
		for _, a := range f.Agents {
			agents[a] = append(agents[a], f.Rating)
		}
		ag := f.Agents
		if ag == nil {
			ag = []string{}
		}
		rep.Ratings = append(rep.Ratings, Rating{ID: f.ID, TicketID: f.TicketID, Rating: f.Rating, Choice: f.Choice,
			Comment: f.Comment, Team: TeamRef{ID: f.TeamID, Name: f.Team}, Agents: ag, CreatedAt: f.CreatedAt.UTC()})
	}
	rep.Summary = summarize(all)
	group := func(m map[string][]int) []GroupSummary {
		out := []GroupSummary{}
		for name, rs := range m {
			out = append(out, GroupSummary{Name: name, Summary: summarize(rs)})
		}
		// Best first; ties by count, then name, so the order is stable.
		sort.Slice(out, func(i, j int) bool {
			a, b := out[i], out[j]
			if a.Average != b.Average {
				return a.Average > b.Average
			}
			if a.Count != b.Count {
				return a.Count > b.Count
			}
			return a.Name < b.Name
		})
		return out
	}
	rep.Teams, rep.Agents = group(teams), group(agents)
	return rep
}

func summarize(rs []int) Summary {
	var s Summary
	sum, pos := 0, 0
	for _, r := range rs {
		if r < 1 || r > 5 {
			continue
		}
		s.Count++
		s.Stars[r-1]++
		sum += r
		if r >= 4 {
			pos++
		}
	}
	if s.Count > 0 {
		s.Average = math.Round(float64(sum)/float64(s.Count)*100) / 100
		s.Positive = math.Round(float64(pos)/float64(s.Count)*1000) / 1000
	}
	return s
}

// feedback: GET /feedback?since=&until=&team=&agent= (default: the last 30 days).
func (s *Server) feedback(w http.ResponseWriter, r *http.Request, p *principal) {
	v, err := query(r, "since", "until", "team", "agent")
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	ctx := r.Context()
	now := s.now()
	since, until := now.Add(-30*24*time.Hour), now
	var errs []FieldError
	if v.Get("since") != "" {
		if since, err = ParseTime(v.Get("since"), now); err != nil {
			errs = append(errs, FieldError{Field: "since", Message: err.Error()})
		}
	}
	if v.Get("until") != "" {
		if until, err = ParseTime(v.Get("until"), now); err != nil {
			errs = append(errs, FieldError{Field: "until", Message: err.Error()})
		}
	}
	q := store.FeedbackQuery{Scope: p.scope, Since: &since, Until: &until, Agent: strings.ToLower(v.Get("agent"))}
	if t := v.Get("team"); t != "" {
		if q.TeamID, err = s.teamID(ctx, t); errors.Is(err, store.ErrNotFound) {
			errs = append(errs, FieldError{Field: "team", Message: "no team has that name or id"})
		} else if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if len(errs) > 0 {
		invalid(w, errs...)
		return
	}
	rows, err := s.st.QueryFeedback(ctx, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, BuildFeedbackReport(rows, since, until))
}
