package config

import (
	"encoding"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// envPrefix starts every environment variable that sets a key.
const envPrefix = "MXDESK_"

// configError is the single error shape of this package, so every problem
// reads the same way: "config SOURCE: KEY: problem". SOURCE is the file
// (with ":LINE" for syntax errors) or environment variable the value came
// from; KEY is the dotted key. Either may be empty when it does not apply.
type configError struct {
	src string
	key string
	err error
}

func (e *configError) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.src != "" {
		b.WriteString(" ")
		b.WriteString(e.src)
	}
	b.WriteString(": ")
	if e.key != "" {
		b.WriteString(e.key)
		b.WriteString(": ")
	}
	b.WriteString(e.err.Error())
	return b.String()
}

func (e *configError) Unwrap() error { return e.err }

// syntaxError keeps toml's ParseError reachable with errors.As while
// printing only its message; the line is already in the error's source.
type syntaxError struct{ pe toml.ParseError }

func (e syntaxError) Error() string { return e.pe.Message }
func (e syntaxError) Unwrap() error { return e.pe }

// Load builds the configuration from defaults, the TOML file at path (none
// if path is ""), and the MXDESK_* variables in env, in that order, then
// fills derived defaults and validates the result.
//
// env is a list of "NAME=value" strings as returned by os.Environ; Load
// never reads the process environment itself. Every scalar key can be set
// by MXDESK_<KEY> at the top level or MXDESK_<SECTION>_<KEY> in a section
// (MXDESK_DOMAIN, MXDESK_SMTP_LISTEN, MXDESK_OUTBOUND_RELAY, ...). Integers,
// booleans and durations ("90s") are parsed; lists are comma-separated.
// MXDESK_MAILBOXES="support@example.com=Support,billing@example.com=Billing"
// replaces the mailbox list. An empty string value sets the key to empty,
// which for derived keys means "use the derived default" and for
// outbound.relay means "log instead of sending".
//
// Unknown keys in the file and MXDESK_* variables that match no key are
// errors, because a misspelt setting that is silently ignored is worse than
// one that stops startup. MXDESK_CONFIG and MXDESK_TEST_* are not keys and
// are ignored.
//
// All problems found are reported together, joined with errors.Join, one
// per line.
func Load(path string, env []string) (*Config, error) {
	c := base()
	origin := make(map[string]string) // key -> file or variable that set it
	var errs []error
	if path != "" {
		errs = append(errs, loadFile(c, path, origin)...)
	}
	errs = append(errs, applyEnv(c, env, origin)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	derived := c.derive()
	for key, from := range derived {
		if src, ok := origin[from]; ok {
			origin[key] = src
		}
	}
	source := func(key string) string {
		if src, ok := origin[key]; ok {
			return src
		}
		// "mailboxes[1].address" was set as part of "mailboxes".
		if i := strings.IndexByte(key, '['); i >= 0 {
			if src, ok := origin[key[:i]]; ok {
				return src
			}
		}
		return path
	}
	if err := c.validate(source, derived); err != nil {
		return nil, err
	}
	return c, nil
}

// loadFile decodes the TOML file at path over c, recording in origin which
// keys it set.
//
// The file is parsed into a generic map and assigned field by field rather
// than decoded straight into the struct, so that type mismatches and
// unknown keys get this package's error form naming the key, instead of
// the toml library's wording.
func loadFile(c *Config, path string, origin map[string]string) []error {
	data, err := os.ReadFile(path)
	if err != nil {
		// The path is already the error's source; keep only "open: why".
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
		}
		return []error{&configError{src: path, err: err}}
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			src := fmt.Sprintf("%s:%d", path, errorLine(string(data), pe.Position))
			return []error{&configError{src: src, err: syntaxError{pe}}}
		}
		return []error{&configError{src: path, err: err}}
	}
	return decodeTable(raw, reflect.ValueOf(c).Elem(), "", path, origin)
}

// errorLine returns the line of a TOML syntax error. toml counts a newline
// as part of the next line, so "[smtp" missing its ']' would be blamed on
// the line after it; counting from the error's byte offset blames the line
// that holds the mistake.
func errorLine(data string, pos toml.Position) int {
	if pos.Start < 0 || pos.Start > len(data) {
		return pos.Line
	}
	return strings.Count(data[:pos.Start], "\n") + 1
}

// decodeTable assigns the TOML table raw to the struct v. prefix is the
// dotted key of v ("" at the top level).
func decodeTable(raw map[string]any, v reflect.Value, prefix, src string, origin map[string]string) []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		key := joinKey(prefix, name)
		idx, ok := fieldByName(v.Type(), name)
		if !ok {
			errs = append(errs, &configError{src: src, err: fmt.Errorf("unknown key %s", key)})
			continue
		}
		errs = append(errs, decodeValue(raw[name], v.FieldByIndex(idx), key, src, origin)...)
	}
	return errs
}

// decodeValue assigns one TOML value to v, recursing into tables and arrays
// of tables.
func decodeValue(raw any, v reflect.Value, key, src string, origin map[string]string) []error {
	switch {
	case isTable(v.Type()):
		sub, ok := raw.(map[string]any)
		if !ok {
			return []error{&configError{src: src, key: key,
				err: fmt.Errorf("must be a table ([%s]), got %s", key, describe(raw))}}
		}
		return decodeTable(sub, v, key, src, origin)
	case v.Kind() == reflect.Slice && isTable(v.Type().Elem()):
		items, ok := tableArray(raw)
		if !ok {
			return []error{&configError{src: src, key: key,
				err: fmt.Errorf("must be an array of tables ([[%s]]), got %s", key, describe(raw))}}
		}
		list := reflect.MakeSlice(v.Type(), len(items), len(items))
		var errs []error
		for i, item := range items {
			ikey := fmt.Sprintf("%s[%d]", key, i)
			errs = append(errs, decodeTable(item, list.Index(i), ikey, src, origin)...)
		}
		if len(errs) == 0 {
			v.Set(list)
			origin[key] = src
		}
		return errs
	}
	if err := setFromTOML(v, raw); err != nil {
		return []error{&configError{src: src, key: key, err: err}}
	}
	origin[key] = src
	return nil
}

// setFromTOML assigns a scalar or list TOML value to v, insisting on the
// TOML type that matches v's Go type; quietly converting "25" to 25 would
// hide mistakes.
func setFromTOML(v reflect.Value, raw any) error {
	if u, ok := textUnmarshaler(v); ok {
		s, ok := raw.(string)
		if !ok {
			if v.Type() == reflect.TypeFor[Duration]() {
				return fmt.Errorf("must be a duration string like \"90s\", got %s", describe(raw))
			}
			return fmt.Errorf("must be a string, got %s", describe(raw))
		}
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("must be a string, got %s", describe(raw))
		}
		v.SetString(s)
		return nil
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return fmt.Errorf("must be true or false, got %s", describe(raw))
		}
		v.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := raw.(int64)
		if !ok {
			return fmt.Errorf("must be an integer, got %s", describe(raw))
		}
		if v.OverflowInt(n) {
			return fmt.Errorf("%d is out of range", n)
		}
		v.SetInt(n)
		return nil
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			break
		}
		items, ok := raw.([]any)
		if !ok {
			return fmt.Errorf("must be an array of strings, got %s", describe(raw))
		}
		list := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, item := range items {
			s, ok := item.(string)
			if !ok {
				return fmt.Errorf("must be an array of strings, element %d is %s", i, describe(item))
			}
			list.Index(i).SetString(s)
		}
		v.Set(list)
		return nil
	}
	// Only reachable if a field of an unsupported type is added to Config.
	return fmt.Errorf("unsupported type %s", v.Type())
}

// envField is one key that an environment variable can set.
type envField struct {
	key   string // dotted TOML key, e.g. "smtp.max_message_bytes"
	env   string // variable name, e.g. "MXDESK_SMTP_MAX_MESSAGE_BYTES"
	index []int  // field path for reflect.Value.FieldByIndex
}

// envFields lists the settable keys of struct type t by walking its toml
// tags, so a key added to Config gets its variable without more code.
// Arrays of tables have no variable, except mailboxes, which has its own
// compact syntax.
func envFields(t reflect.Type, prefix string, index []int) []envField {
	var out []envField
	for i := range t.NumField() {
		sf := t.Field(i)
		name, ok := tomlName(sf)
		if !ok {
			continue
		}
		key := joinKey(prefix, name)
		idx := append(slices.Clone(index), i)
		switch {
		case isTable(sf.Type):
			out = append(out, envFields(sf.Type, key, idx)...)
			continue
		case sf.Type.Kind() == reflect.Slice && isTable(sf.Type.Elem()) &&
			sf.Type != reflect.TypeFor[[]Mailbox]():
			continue
		}
		// Job names have hyphens ("auto-close"), which a shell variable cannot.
		env := envPrefix + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
		out = append(out, envField{key: key, env: env, index: idx})
	}
	return out
}

// applyEnv applies the MXDESK_* variables in env to c, recording in origin
// which keys they set. Later entries win, as with duplicate variables in a
// process environment.
func applyEnv(c *Config, env []string, origin map[string]string) []error {
	fields := envFields(reflect.TypeOf(*c), "", nil)
	byName := make(map[string]envField, len(fields))
	for _, f := range fields {
		byName[f.env] = f
	}
	root := reflect.ValueOf(c).Elem()
	var errs []error
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) ||
			name == envPrefix+"CONFIG" || strings.HasPrefix(name, envPrefix+"TEST_") {
			continue
		}
		f, ok := byName[name]
		if !ok {
			msg := "unknown variable, it matches no config key"
			if near := closest(name, fields); near != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", near)
			}
			errs = append(errs, &configError{src: name, err: errors.New(msg)})
			continue
		}
		if err := setFromString(root.FieldByIndex(f.index), val); err != nil {
			errs = append(errs, &configError{src: name, key: f.key, err: err})
			continue
		}
		origin[f.key] = name
	}
	return errs
}

// setFromString assigns an environment value to v.
func setFromString(v reflect.Value, s string) error {
	if v.Type() == reflect.TypeFor[[]Mailbox]() {
		list, err := parseMailboxes(s)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(list))
		return nil
	}
	if u, ok := textUnmarshaler(v); ok {
		return u.UnmarshalText([]byte(s))
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
		return nil
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a boolean (true or false)", s)
		}
		v.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, v.Type().Bits())
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%q is out of range", s)
		}
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(n)
		return nil
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			break
		}
		var list []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		v.Set(reflect.ValueOf(list).Convert(v.Type()))
		return nil
	}
	return fmt.Errorf("unsupported type %s", v.Type())
}

// parseMailboxes parses MXDESK_MAILBOXES, "address=Team,address=Team". An
// empty value gives no mailboxes, which Load turns into the default one.
func parseMailboxes(s string) ([]Mailbox, error) {
	var list []Mailbox
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		// Split at the last '=': team names have no reason to contain one,
		// while an address's local part may.
		eq := strings.LastIndexByte(item, '=')
		if eq < 0 {
			return nil, fmt.Errorf("%q is not address=Team", item)
		}
		list = append(list, Mailbox{
			Address: strings.TrimSpace(item[:eq]),
			Team:    strings.TrimSpace(item[eq+1:]),
		})
	}
	return list, nil
}

// closest returns the known variable nearest to a misspelt name, or "" if
// none is close enough to be a likely typo.
func closest(name string, fields []envField) string {
	best, bestDist := "", 3 // suggest only within two edits
	for _, f := range fields {
		if d := editDistance(name, f.env); d < bestDist {
			best, bestDist = f.env, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// tomlName returns the key of a struct field: its toml tag, or the field
// name if untagged. Unexported and "-" fields are not keys.
func tomlName(sf reflect.StructField) (string, bool) {
	if !sf.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
	switch name {
	case "-":
		return "", false
	case "":
		return sf.Name, true
	}
	return name, true
}

// fieldByName finds the field of struct type t whose key is name. Keys are
// matched exactly, so "Domain" is reported as unknown rather than accepted.
func fieldByName(t reflect.Type, name string) ([]int, bool) {
	for i := range t.NumField() {
		if n, ok := tomlName(t.Field(i)); ok && n == name {
			return []int{i}, true
		}
	}
	return nil, false
}

// isTable reports whether t is decoded from a TOML table: a struct that
// does not decode itself from text the way Duration does.
func isTable(t reflect.Type) bool {
	return t.Kind() == reflect.Struct &&
		!reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// textUnmarshaler returns v as an encoding.TextUnmarshaler if it is one.
func textUnmarshaler(v reflect.Value) (encoding.TextUnmarshaler, bool) {
	if !v.CanAddr() {
		return nil, false
	}
	u, ok := v.Addr().Interface().(encoding.TextUnmarshaler)
	return u, ok
}

// tableArray accepts both forms of an array of tables: [[name]] sections
// and an inline array of inline tables.
func tableArray(raw any) ([]map[string]any, bool) {
	switch x := raw.(type) {
	case []map[string]any:
		return x, true
	case []any:
		out := make([]map[string]any, len(x))
		for i, item := range x {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, false
			}
			out[i] = m
		}
		return out, true
	}
	return nil, false
}

// describe names the TOML type of a decoded value, with the value itself
// for scalars, for "must be X, got Y" messages.
func describe(raw any) string {
	switch x := raw.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a datetime"
	}
	return fmt.Sprintf("a %T", raw)
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
