package threading

import (
	"fmt"
	"net/mail"
	"strings"
)

// Command is one "#name argument" line at the top of an agent's reply.
type Command struct {
	Name string // status, priority, assign, team, note
	Arg  string // normalized: status "in_progress", priority lower case, assign a bare address
}

// AgentReply is an agent's mail split into its commands and its text.
type AgentReply struct {
	Commands []Command
	// Note is set by #note: Body is then an internal note, never sent to the customer.
	Note bool
	// Body is what follows the commands (for #note, including the rest of its line).
	Body string
	// Errors explain command lines that could not be used. When there are any, nothing
	// of the reply may reach the customer: the agent gets the explanation instead.
	Errors []string
}

// ParseAgentReply reads commands from the top of an agent's reply: each on its own line,
// blank lines between them allowed, ending at the first line that is not a command. A
// line that looks like a command ("#" and a word) but is not one is an error, so a typo
// such as "#stauts resolved" never goes to the customer as text.
func ParseAgentReply(text string) AgentReply {
	var r AgentReply
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	i := 0
	for ; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "#") || len(line) < 2 || !isLetter(line[1]) {
			break
		}
		name, arg, _ := strings.Cut(line[1:], " ")
		name, arg = strings.ToLower(name), strings.TrimSpace(arg)
		if name == "note" {
			r.Note = true
			rest := strings.Join(lines[i+1:], "\n")
			if arg != "" {
				rest = arg + "\n" + rest
			}
			r.Body = strings.TrimSpace(rest)
			return r
		}
		c, err := parseCommand(name, arg)
		if err != nil {
			r.Errors = append(r.Errors, fmt.Sprintf("%q: %v", line, err))
			continue
		}
		r.Commands = append(r.Commands, c)
	}
	r.Body = strings.TrimSpace(strings.Join(lines[i:], "\n"))
	return r
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

func parseCommand(name, arg string) (Command, error) {
	switch name {
	case "status":
		switch s := strings.Join(strings.Fields(strings.ToLower(arg)), " "); s {
		case "resolved", "open", "closed":
			return Command{Name: name, Arg: s}, nil
		case "in progress", "in_progress", "in-progress":
			return Command{Name: name, Arg: "in_progress"}, nil
		}
		return Command{}, fmt.Errorf("the status must be resolved, open, in progress or closed")
	case "priority":
		switch p := strings.ToLower(arg); p {
		case "low", "medium", "high", "urgent":
			return Command{Name: name, Arg: p}, nil
		}
		return Command{}, fmt.Errorf("the priority must be low, medium, high or urgent")
	case "assign":
		a, err := mail.ParseAddress(arg)
		if err != nil {
			return Command{}, fmt.Errorf("#assign needs the agent's address, like #assign ana@example.com")
		}
		return Command{Name: name, Arg: strings.ToLower(a.Address)}, nil
	case "team":
		if arg == "" {
			return Command{}, fmt.Errorf("#team needs a team name, like #team Billing")
		}
		return Command{Name: name, Arg: arg}, nil
	}
	return Command{}, fmt.Errorf("unknown command: the commands are #status, #priority, #assign, #team and #note")
}
