package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

const fullFile = `
domain = "example.com"
database_url = "postgres://mx@db/mxdesk"
data_dir = "/var/lib/mxdesk"
log_level = "debug"

[[mailboxes]]
address = "support@example.com"
team = "Support"

[[mailboxes]]
address = "billing@example.com"
team = "Billing"

[smtp]
listen = "0.0.0.0:25"
hostname = "mx.example.com"
max_message_bytes = 10485760
max_recipients = 20
read_timeout = "90s"
write_timeout = "2m"

[outbound]
relay = "smtp.example.net:587"
from = "Example Help <help@example.com>"
retry_max = "24h"
max_auto_per_hour = 3

[portal]
listen = "127.0.0.1:9090"
base_url = "https://help.example.com"
`

// fullConfig is what fullFile loads to: the defaults with every key the file sets.
func fullConfig() *Config {
	c := base()
	c.Domain = "example.com"
	c.DatabaseURL = "postgres://mx@db/mxdesk"
	c.DataDir = "/var/lib/mxdesk"
	c.LogLevel = "debug"
	c.SMTP.Listen, c.SMTP.Hostname = "0.0.0.0:25", "mx.example.com"
	c.SMTP.MaxMessageBytes, c.SMTP.MaxRecipients = 10485760, 20
	c.SMTP.ReadTimeout, c.SMTP.WriteTimeout = Duration{90 * time.Second}, Duration{2 * time.Minute}
	c.Mailboxes = []Mailbox{
		{Address: "support@example.com", Team: "Support"},
		{Address: "billing@example.com", Team: "Billing"},
	}
	c.Outbound.Relay = "smtp.example.net:587"
	c.Outbound.From = "Example Help <help@example.com>"
	c.Outbound.RetryMax = Duration{24 * time.Hour}
	c.Outbound.MaxAutoPerHour = 3
	c.Portal.Listen, c.Portal.BaseURL = "127.0.0.1:9090", "https://help.example.com"
	return c
}

func TestLoadFile(t *testing.T) {
	got := mustLoad(t, writeConfig(t, fullFile), nil)
	if want := fullConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadFilePartial(t *testing.T) {
	// Keys not in the file keep their defaults, including ones in a section
	// the file does mention.
	got := mustLoad(t, writeConfig(t, "[smtp]\nmax_recipients = 7\n"), nil)
	want := Default()
	want.SMTP.MaxRecipients = 7
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoadInlineMailboxes(t *testing.T) {
	got := mustLoad(t, writeConfig(t,
		`mailboxes = [{address = "a@example.com", team = "A"}, {address = "b@example.com", team = "B"}]`), nil)
	want := []Mailbox{{Address: "a@example.com", Team: "A"}, {Address: "b@example.com", Team: "B"}}
	if !reflect.DeepEqual(got.Mailboxes, want) {
		t.Errorf("Mailboxes = %+v, want %+v", got.Mailboxes, want)
	}
}

func TestEnvOverridesFile(t *testing.T) {
	env := []string{
		"HOME=/home/mx",
		"MXDESK_DOMAIN=example.org",
		"MXDESK_DATABASE_URL=sqlite:/tmp/x.db",
		"MXDESK_DATA_DIR=/tmp/data",
		"MXDESK_LOG_LEVEL=warn",
		"MXDESK_SMTP_LISTEN=127.0.0.1:2626",
		"MXDESK_SMTP_HOSTNAME=mx.example.org",
		"MXDESK_SMTP_MAX_MESSAGE_BYTES= 1000 ",
		"MXDESK_SMTP_MAX_RECIPIENTS=5",
		"MXDESK_SMTP_READ_TIMEOUT=10s",
		"MXDESK_SMTP_WRITE_TIMEOUT=20s",
		"MXDESK_MAILBOXES= help@example.org = Help Desk , , sales@example.org=Sales",
		"MXDESK_OUTBOUND_RELAY=",
		"MXDESK_OUTBOUND_FROM=help@example.org",
		"MXDESK_OUTBOUND_RETRY_MAX=1h",
		"MXDESK_OUTBOUND_MAX_AUTO_PER_HOUR=1",
		"MXDESK_PORTAL_LISTEN=[::1]:8000",
		"MXDESK_PORTAL_BASE_URL=https://example.org/help/",
		"MXDESK_CONFIG=/etc/ignored.toml",
		"MXDESK_TEST_ANYTHING=ignored",
		"NOT_AN_ASSIGNMENT",
	}
	got := mustLoad(t, writeConfig(t, fullFile), env)
	want := base()
	want.Domain, want.DatabaseURL, want.DataDir, want.LogLevel = "example.org", "sqlite:/tmp/x.db", "/tmp/data", "warn"
	want.SMTP.Listen, want.SMTP.Hostname = "127.0.0.1:2626", "mx.example.org"
	want.SMTP.MaxMessageBytes, want.SMTP.MaxRecipients = 1000, 5
	want.SMTP.ReadTimeout, want.SMTP.WriteTimeout = Duration{10 * time.Second}, Duration{20 * time.Second}
	want.Mailboxes = []Mailbox{
		{Address: "help@example.org", Team: "Help Desk"},
		{Address: "sales@example.org", Team: "Sales"},
	}
	want.Outbound.Relay, want.Outbound.From = "", "help@example.org"
	want.Outbound.RetryMax, want.Outbound.MaxAutoPerHour = Duration{time.Hour}, 1
	want.Portal.Listen, want.Portal.BaseURL = "[::1]:8000", "https://example.org/help"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
	}
}

func TestEnvLastWins(t *testing.T) {
	got := mustLoad(t, "", []string{"MXDESK_LOG_LEVEL=debug", "MXDESK_LOG_LEVEL=error"})
	if got.LogLevel != "error" {
		t.Errorf("LogLevel = %q, want the later value %q", got.LogLevel, "error")
	}
}

// TestEnvFields checks the variable names derived from the struct tags:
// the documented ones exist and no two keys share a variable.
func TestEnvFields(t *testing.T) {
	fields := envFields(reflect.TypeFor[Config](), "", nil)
	byEnv := make(map[string]string)
	for _, f := range fields {
		if other, dup := byEnv[f.env]; dup {
			t.Errorf("%s and %s both map to %s", other, f.key, f.env)
		}
		byEnv[f.env] = f.key
	}
	// Every key gets MXDESK_ + its dotted name upper-cased with dots (and the hyphens
	// of job names) as underscores.
	for env, key := range byEnv {
		if want := "MXDESK_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key)); env != want {
			t.Errorf("key %s has variable %s, want %s", key, env, want)
		}
	}
	// And these, which operators and tests rely on, exist.
	want := map[string]string{
		"MXDESK_DOMAIN":                     "domain",
		"MXDESK_DATABASE_URL":               "database_url",
		"MXDESK_DATA_DIR":                   "data_dir",
		"MXDESK_MAILBOXES":                  "mailboxes",
		"MXDESK_SMTP_LISTEN":                "smtp.listen",
		"MXDESK_SMTP_MAX_MESSAGE_BYTES":     "smtp.max_message_bytes",
		"MXDESK_OUTBOUND_RELAY":             "outbound.relay",
		"MXDESK_OUTBOUND_MAX_AUTO_PER_HOUR": "outbound.max_auto_per_hour",
		"MXDESK_PORTAL_BASE_URL":            "portal.base_url",
	}
	for env, key := range want {
		if byEnv[env] != key {
			t.Errorf("%s sets %q, want %q", env, byEnv[env], key)
		}
	}
}

// TestEnvGenericTypes covers kinds no current key uses (bool, []string),
// so a key of such a type added later gets a working variable.
func TestEnvGenericTypes(t *testing.T) {
	type section struct {
		On    bool     `toml:"on"`
		Names []string `toml:"names"`
		Small int8     `toml:"small"`
	}
	var v struct {
		S section `toml:"s"`
	}
	fields := envFields(reflect.TypeOf(v), "", nil)
	set := func(env, val string) error {
		for _, f := range fields {
			if f.env == env {
				return setFromString(reflect.ValueOf(&v).Elem().FieldByIndex(f.index), val)
			}
		}
		t.Fatalf("no field for %s in %+v", env, fields)
		return nil
	}
	if err := set("MXDESK_S_ON", "true"); err != nil || !v.S.On {
		t.Errorf("MXDESK_S_ON=true: on = %v, err %v", v.S.On, err)
	}
	if err := set("MXDESK_S_ON", "yes"); err == nil || !strings.Contains(err.Error(), `"yes" is not a boolean`) {
		t.Errorf("MXDESK_S_ON=yes: err %v", err)
	}
	if err := set("MXDESK_S_NAMES", "a, b,,c "); err != nil || !reflect.DeepEqual(v.S.Names, []string{"a", "b", "c"}) {
		t.Errorf("MXDESK_S_NAMES: names = %q, err %v", v.S.Names, err)
	}
	if err := set("MXDESK_S_SMALL", "300"); err == nil || !strings.Contains(err.Error(), `"300" is out of range`) {
		t.Errorf("MXDESK_S_SMALL=300: err %v", err)
	}

	// The same kinds from a file.
	var raw map[string]any
	if _, err := toml.Decode("[s]\non = true\nnames = [\"x\", \"y\"]\nsmall = 5", &raw); err != nil {
		t.Fatal(err)
	}
	v = struct {
		S section `toml:"s"`
	}{}
	if errs := decodeTable(raw, reflect.ValueOf(&v).Elem(), "", "f.toml", map[string]string{}); len(errs) > 0 {
		t.Fatal(errs)
	}
	if want := (section{On: true, Names: []string{"x", "y"}, Small: 5}); !reflect.DeepEqual(v.S, want) {
		t.Errorf("decoded %+v, want %+v", v.S, want)
	}
}

func TestLoadErrors(t *testing.T) {
	const file = "FILE" // replaced by the temporary file's path
	tests := []struct {
		name string
		file string // "" means no file
		env  []string
		want []string // substrings of the error, FILE standing for the path
	}{
		{
			name: "bad env integer",
			env:  []string{"MXDESK_SMTP_MAX_MESSAGE_BYTES=abc"},
			want: []string{`config MXDESK_SMTP_MAX_MESSAGE_BYTES: smtp.max_message_bytes: "abc" is not an integer`},
		},
		{
			name: "bad env duration",
			env:  []string{"MXDESK_OUTBOUND_RETRY_MAX=2 days"},
			want: []string{`config MXDESK_OUTBOUND_RETRY_MAX: outbound.retry_max: "2 days" is not a duration`},
		},
		{
			name: "bad env mailboxes",
			env:  []string{"MXDESK_MAILBOXES=support@example.com"},
			want: []string{`config MXDESK_MAILBOXES: mailboxes: "support@example.com" is not address=Team`},
		},
		{
			name: "env value failing validation names the variable",
			env:  []string{"MXDESK_SMTP_LISTEN=nope"},
			want: []string{`config MXDESK_SMTP_LISTEN: smtp.listen: "nope" is not host:port`},
		},
		{
			name: "env mailbox failing validation names the variable and index",
			env:  []string{"MXDESK_MAILBOXES=a@example.com=A,a+b@example.com=B"},
			want: []string{`config MXDESK_MAILBOXES: mailboxes[1].address: "a+b@example.com" must not contain '+'`},
		},
		{
			name: "unknown env variable",
			env:  []string{"MXDESK_SMTP_LISEN=127.0.0.1:25"},
			want: []string{`config MXDESK_SMTP_LISEN: unknown variable`, `did you mean MXDESK_SMTP_LISTEN?`},
		},
		{
			name: "unknown env variable far from any key",
			env:  []string{"MXDESK_WHATEVER=1"},
			want: []string{`config MXDESK_WHATEVER: unknown variable, it matches no config key`},
		},
		{
			name: "file value failing validation names the file",
			file: "[smtp]\nmax_message_bytes = -5\n",
			want: []string{`config FILE: smtp.max_message_bytes: must be positive, got -5`},
		},
		{
			name: "a key set apart from its derived default names its variable",
			env:  []string{"MXDESK_DOMAIN=example.com", "MXDESK_OUTBOUND_FROM=", "MXDESK_SMTP_HOSTNAME=bad host"},
			want: []string{`config MXDESK_SMTP_HOSTNAME: smtp.hostname: "bad host" is not a hostname`},
		},
		{
			name: "unknown file keys, each named",
			file: "domian = \"x\"\n[smtp]\nlisen = \"x\"\n[[mailboxes]]\naddres = \"a@b\"\nteam = \"T\"\n[extra]\nk = 1\n",
			want: []string{
				"config FILE: unknown key domian",
				"config FILE: unknown key smtp.lisen",
				"config FILE: unknown key mailboxes[0].addres",
				"config FILE: unknown key extra",
			},
		},
		{
			name: "keys are case-sensitive",
			file: `Domain = "example.com"`,
			want: []string{"config FILE: unknown key Domain"},
		},
		{
			name: "bad TOML shows the line",
			file: "domain = \"example.com\"\n\n[smtp\nlisten = \"x\"\n",
			want: []string{"config FILE:3: "},
		},
		{
			name: "unterminated string shows the line",
			file: "domain = \"example.com\"\nlog_level = \"info\n",
			want: []string{"config FILE:2: "},
		},
		{
			name: "string for integer",
			file: "[smtp]\nmax_recipients = \"50\"\n",
			want: []string{`config FILE: smtp.max_recipients: must be an integer, got string "50"`},
		},
		{
			name: "integer for duration",
			file: "[smtp]\nread_timeout = 300\n",
			want: []string{`config FILE: smtp.read_timeout: must be a duration string like "90s", got integer 300`},
		},
		{
			name: "bad duration in file",
			file: "[outbound]\nretry_max = \"2 days\"\n",
			want: []string{`config FILE: outbound.retry_max: "2 days" is not a duration`},
		},
		{
			name: "integer for string",
			file: "domain = 5\n",
			want: []string{`config FILE: domain: must be a string, got integer 5`},
		},
		{
			name: "scalar for section",
			file: "smtp = \"x\"\n",
			want: []string{`config FILE: smtp: must be a table ([smtp]), got string "x"`},
		},
		{
			name: "table for mailboxes array",
			file: "[mailboxes]\naddress = \"a@b\"\n",
			want: []string{`config FILE: mailboxes: must be an array of tables ([[mailboxes]]), got a table`},
		},
		{
			name: "file and env problems reported together",
			file: "bogus = 1\n",
			env:  []string{"MXDESK_BOGUS=1"},
			want: []string{"config FILE: unknown key bogus", "config MXDESK_BOGUS: unknown variable"},
		},
		{
			name: "several validation problems reported together",
			file: "log_level = \"loud\"\n[smtp]\nmax_recipients = 0\n",
			want: []string{
				`config FILE: log_level: "loud" is not one of debug, info, warn, error`,
				`config FILE: smtp.max_recipients: must be positive, got 0`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeConfig(t, tt.file)
			}
			c, err := Load(path, tt.env)
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want error", c)
			}
			if c != nil {
				t.Errorf("Load returned a config along with error %v", err)
			}
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, file, path)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

// TestLoadNoCascade checks that a bad key is reported once, not again
// through every default derived from it.
func TestLoadNoCascade(t *testing.T) {
	tests := []struct {
		env   []string
		want  string
		wantN int // number of problems reported
	}{
		{[]string{"MXDESK_DOMAIN=bad domain"}, `config MXDESK_DOMAIN: domain: "bad domain" is not a hostname`, 1},
		{[]string{"MXDESK_PORTAL_LISTEN=127.0.0.1:http"}, `config MXDESK_PORTAL_LISTEN: portal.listen:`, 1},
		// Set explicitly, a key depending on a bad one is still checked.
		{[]string{"MXDESK_DOMAIN=bad domain", "MXDESK_SMTP_HOSTNAME=bad host"}, `config MXDESK_SMTP_HOSTNAME: smtp.hostname:`, 2},
	}
	for _, tt := range tests {
		_, err := Load("", tt.env)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%q) error = %v, want %q", tt.env, err, tt.want)
			continue
		}
		if n := strings.Count(err.Error(), "\n") + 1; n != tt.wantN {
			t.Errorf("Load(%q) reported %d problems, want %d:\n%v", tt.env, n, tt.wantN, err)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.toml")
	_, err := Load(path, nil)
	want := "config " + path + ": open: no such file"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Load(missing) error = %v, want prefix %q", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v is not fs.ErrNotExist", err)
	}
}

func TestLoadSyntaxErrorIsParseError(t *testing.T) {
	path := writeConfig(t, "a = \n")
	_, err := Load(path, nil)
	var pe toml.ParseError
	if !errors.As(err, &pe) || pe.Position.Line != 1 {
		t.Errorf("error %v: want a toml.ParseError at line 1, got %+v", err, pe)
	}
}
