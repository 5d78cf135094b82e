package threading

import (
	"reflect"
	"testing"
)

func TestParseAgentReplyReadsCommandsFromTheTop(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want AgentReply
	}{
		{"plain answer", "Please restart the printer.\n\nBob", AgentReply{Body: "Please restart the printer.\n\nBob"}},
		{"status then answer", "#status resolved\n\nFixed it for you.", AgentReply{
			Commands: []Command{{"status", "resolved"}}, Body: "Fixed it for you."}},
		{"several commands, in progress spelled out", "#priority HIGH\r\n#status in progress\r\n#assign Ana <ana@example.com>\r\nOn it.", AgentReply{
			Commands: []Command{{"priority", "high"}, {"status", "in_progress"}, {"assign", "ana@example.com"}}, Body: "On it."}},
		{"team with spaces", "#team Second Level\n", AgentReply{Commands: []Command{{"team", "Second Level"}}}},
		{"note keeps the rest internal", "#status resolved\n#note called the customer\nthey are fine", AgentReply{
			Commands: []Command{{"status", "resolved"}}, Note: true, Body: "called the customer\nthey are fine"}},
		{"a hash later in the text is text", "See ticket\n#42 for details", AgentReply{Body: "See ticket\n#42 for details"}},
		{"hashtag-looking first line of digits is text", "#1 thing to check: cables", AgentReply{Body: "#1 thing to check: cables"}},
		{"typo in a command", "#stauts resolved\nDone.", AgentReply{Body: "Done.",
			Errors: []string{`"#stauts resolved": unknown command: the commands are #status, #priority, #assign, #team and #note`}}},
		{"bad status", "#status done\nDone.", AgentReply{Body: "Done.",
			Errors: []string{`"#status done": the status must be resolved, open, in progress or closed`}}},
		{"bad assign", "#assign ana\n", AgentReply{Errors: []string{`"#assign ana": #assign needs the agent's address, like #assign ana@example.com`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseAgentReply(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseAgentReply(%q) =\n%#v\nwant\n%#v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseAgentReply(f *testing.F) {
	f.Add("#status resolved\n#note x")
	f.Add("#\n#a\n#status")
	f.Fuzz(func(t *testing.T, s string) {
		r := ParseAgentReply(s)
		if len(r.Body) > len(s) {
			t.Fatalf("body longer than input")
		}
	})
}
