package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// uncommentDefaults turns the "#key = value" lines of the example (derived
// defaults) into settings, leaving prose comments ("# ...") alone.
func uncommentDefaults(s string) string {
	return regexp.MustCompile(`(?m)^#([\[a-z])`).ReplaceAllString(s, "$1")
}

func TestExampleLoads(t *testing.T) {
	for name, text := range map[string]string{
		"as shipped":          Example(),
		"derived uncommented": uncommentDefaults(Example()),
	} {
		t.Run(name, func(t *testing.T) {
			c := mustLoad(t, writeConfig(t, text), nil)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			// The example documents the defaults, so it must not drift. Agents have
			// none; the example shows one.
			want := Default()
			if name == "derived uncommented" {
				want.Agents = []Agent{{Email: "ana@example.com", Name: "Ana", Team: "Support"}}
				want.Templates = []Template{{Name: "Bug Report", About: "Tell us how to reproduce it.",
					Body:   "Steps to reproduce:\n\nExpected:\n\nActual:\n",
					Fields: []TemplateField{{Name: "version", Label: "Version", Type: "text", Required: true, Options: []string{}}}}}
				want.Feedback.Options = []FeedbackOption{{Stars: 5, EN: "Quick answer", DE: "Schnelle Antwort"}}
			}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("example loads as\n%+v\nbut defaults are\n%+v", c, want)
			}
		})
	}
}

// TestExampleHasEveryKey makes adding a key to Config without documenting
// it in Example fail.
func TestExampleHasEveryKey(t *testing.T) {
	var raw map[string]any
	md, err := toml.Decode(uncommentDefaults(Example()), &raw)
	if err != nil {
		t.Fatal(err)
	}
	inExample := make(map[string]bool)
	for _, k := range md.Keys() {
		inExample[k.String()] = true
	}
	keys := allKeys(reflect.TypeFor[Config](), "")
	if len(keys) < 17 {
		t.Fatalf("found only %d keys in Config: %v", len(keys), keys)
	}
	for _, k := range keys {
		if !inExample[k] {
			t.Errorf("key %s is missing from Example()", k)
		}
	}
}

// allKeys lists the dotted keys of struct type t, with array-of-table
// fields as "name" and "name.field".
func allKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		name, ok := tomlName(t.Field(i))
		if !ok {
			continue
		}
		key := joinKey(prefix, name)
		ft := t.Field(i).Type
		switch {
		case isTable(ft):
			keys = append(keys, allKeys(ft, key)...)
		case ft.Kind() == reflect.Slice && isTable(ft.Elem()):
			keys = append(keys, key)
			keys = append(keys, allKeys(ft.Elem(), key)...)
		default:
			keys = append(keys, key)
		}
	}
	return keys
}

func ExampleLoad() {
	env := []string{
		"MXDESK_DOMAIN=example.com",
		"MXDESK_MAILBOXES=support@example.com=Support,billing@example.com=Billing",
	}
	c, err := Load("", env)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := c.MailboxFor("Billing+T-42@example.com")
	fmt.Println(c.Outbound.From)
	fmt.Println(m.Team, strings.Join(c.TeamNames(), ","))

	_, err = Load("", []string{"MXDESK_SMTP_LISTEN=nope"})
	fmt.Println(err)
	// Output:
	// Support <support@example.com>
	// Billing Support,Billing
	// config MXDESK_SMTP_LISTEN: smtp.listen: "nope" is not host:port
}
