package kb

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
)

// Statuses of an article. Only published articles are shown and searched.
const (
	StatusDraft     = "draft"
	StatusPublished = "published"
	StatusArchived  = "archived"
)

// MaxFileBytes bounds one article file: a knowledge-base article is a page, not a book,
// and the whole file is rendered in memory.
const MaxFileBytes = 1 << 20

// FileError names the file and line a problem was found at, so an administrator can fix
// it in their editor: "docs/kb/reset.md:3: unknown status "live"".
type FileError struct {
	File string
	Line int // 0: the file as a whole
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// frontMatter is the YAML block at the top of an article file.
type frontMatter struct {
	Title    string   `yaml:"title"`
	Slug     string   `yaml:"slug"`
	Category string   `yaml:"category"`
	Tags     []string `yaml:"tags"`
	Lang     string   `yaml:"lang"`
	Status   string   `yaml:"status"`
	Summary  string   `yaml:"summary"`
}

var (
	slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)
	langRE = regexp.MustCompile(`^[a-z]{2,3}$`)
)

// parseFile splits a file into its front matter and Markdown body and checks the front
// matter. name is the file's path relative to the import directory (for messages and the
// default slug). bodyLine is the line the body starts on.
func parseFile(name string, data []byte, defaultLang string) (fm frontMatter, body []byte, err error) {
	fail := func(line int, format string, a ...any) (frontMatter, []byte, error) {
		return frontMatter{}, nil, &FileError{File: name, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	if len(data) > MaxFileBytes {
		return fail(0, "%d bytes is over the limit of %d for an article; skipped", len(data), MaxFileBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	if !bytes.HasPrefix(data, []byte("---\n")) {
		return fail(1, "no front matter: the file must start with a line \"---\", the YAML (at least title:), and another \"---\"")
	}
	rest := data[4:]
	var head []byte
	switch end := bytes.Index(rest, []byte("\n---\n")); {
	case bytes.HasPrefix(rest, []byte("---\n")):
		head, body = nil, rest[4:]
	case end >= 0:
		head, body = rest[:end+1], rest[end+5:]
	case bytes.HasSuffix(rest, []byte("\n---")):
		head, body = rest[:len(rest)-3], nil
	default:
		return fail(1, "the front matter is not closed: no line \"---\" after it")
	}
	// The YAML starts on the file's second line.
	if err := yaml.UnmarshalWithOptions(head, &fm, yaml.Strict()); err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			return fail(ye.GetToken().Position.Line+1, "front matter: %s", ye.GetMessage())
		}
		return fail(2, "front matter: %v", err)
	}
	line := func(key string) int {
		for i, l := range strings.Split(string(head), "\n") {
			if strings.HasPrefix(l, key+":") {
				return i + 2
			}
		}
		return 1
	}
	fm.Title = strings.TrimSpace(fm.Title)
	if fm.Title == "" {
		return fail(line("title"), "title is missing: every article needs one")
	}
	if len(fm.Title) > 200 {
		return fail(line("title"), "the title is %d bytes long; at most 200", len(fm.Title))
	}
	if fm.Slug == "" {
		fm.Slug = strings.ToLower(strings.TrimSuffix(path.Base(name), path.Ext(name)))
		if !slugRE.MatchString(fm.Slug) {
			return fail(1, "the file name makes the slug %q, which is not lower-case letters, digits and dashes: rename the file or set slug:", fm.Slug)
		}
	} else if !slugRE.MatchString(fm.Slug) {
		return fail(line("slug"), "slug %q: want lower-case letters, digits and dashes (at most 100)", fm.Slug)
	}
	if fm.Lang == "" {
		fm.Lang = defaultLang
	}
	fm.Lang = strings.ToLower(fm.Lang)
	if !langRE.MatchString(fm.Lang) {
		return fail(line("lang"), "lang %q: want a two- or three-letter language code such as en or de", fm.Lang)
	}
	switch fm.Status {
	case "":
		fm.Status = StatusPublished
	case StatusDraft, StatusPublished, StatusArchived:
	default:
		return fail(line("status"), "unknown status %q: want draft, published or archived", fm.Status)
	}
	fm.Category = strings.TrimSpace(fm.Category)
	fm.Summary = strings.TrimSpace(fm.Summary)
	var tags []string
	seen := map[string]bool{}
	for _, t := range fm.Tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || seen[t] {
			continue
		}
		if strings.ContainsAny(t, " \t") {
			return fail(line("tags"), "tag %q: tags are single words (use dashes)", t)
		}
		seen[t] = true
		tags = append(tags, t)
	}
	fm.Tags = tags
	return fm, body, nil
}
