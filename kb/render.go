package kb

import (
	"bytes"
	"fmt"
	"html"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// rendererVersion is part of every article's hash: when rendering changes, the next
// import re-renders every article instead of calling it unchanged.
const rendererVersion = "kb-render-1"

// ImagePath is where the portal serves an article's image: the rendered HTML points there.
func ImagePath(slug, name string) string {
	return "/kb/" + slug + "/img/" + (&url.URL{Path: name}).EscapedPath()
}

// renderer renders Markdown to sanitised HTML. It is safe for concurrent use.
type renderer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
	strict *bluemonday.Policy
}

func newRenderer() *renderer {
	return &renderer{
		md: goldmark.New(
			// GitHub-flavoured Markdown, with table alignment as an attribute (the policy
			// keeps no style attributes).
			goldmark.WithExtensions(extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)),
				extension.Strikethrough, extension.Linkify, extension.TaskList),
			// Heading ids make sections linkable (/kb/slug#reset-by-mail). Raw HTML in the
			// Markdown is dropped by goldmark (it is not rendered "unsafe") and whatever
			// got through would be dropped by the policy.
			goldmark.WithParserOptions(parser.WithAutoHeadingID()),
		),
		policy: articlePolicy(),
		strict: bluemonday.StrictPolicy(),
	}
}

// articlePolicy is bluemonday's policy for user content plus what GitHub-flavoured
// Markdown needs: table alignment, the language class of a code block, task-list boxes
// and heading ids.
func articlePolicy() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowRelativeURLs(true)
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(left|right|center)$`)).OnElements("th", "td")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[\w+#.-]{1,40}$`)).OnElements("code")
	p.AllowAttrs("type").Matching(regexp.MustCompile(`^checkbox$`)).OnElements("input")
	p.AllowAttrs("checked", "disabled").Matching(regexp.MustCompile(`^(|checked|disabled)$`)).OnElements("input")
	p.AllowAttrs("id").Matching(regexp.MustCompile(`^[\w-]{1,100}$`)).OnElements("h1", "h2", "h3", "h4", "h5", "h6")
	return p
}

// rendered is one article body after rendering.
type rendered struct {
	HTML   string
	Text   string   // the words, for the search index
	Images []string // local images referenced, relative to the article's directory
}

// render renders body. Local images (a relative path without a scheme) are pointed at
// the portal's image route for slug and returned, so the importer stores them; dir is the
// article's directory relative to the import root, for the names.
func (r *renderer) render(slug string, body []byte) (rendered, error) {
	doc := r.md.Parser().Parse(text.NewReader(body))
	var images []string
	seen := map[string]bool{}
	var bad error
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		img, ok := n.(*ast.Image)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		dest := string(img.Destination)
		u, err := url.Parse(dest)
		if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "/") || u.Path == "" {
			return ast.WalkContinue, nil // a remote or absolute image: left as it is
		}
		name := path.Clean(u.Path)
		if name == ".." || strings.HasPrefix(name, "../") {
			bad = fmt.Errorf("image %q is outside the article's directory", dest)
			return ast.WalkStop, nil
		}
		if _, ok := imageTypes[strings.ToLower(path.Ext(name))]; !ok {
			bad = fmt.Errorf("image %q: want .png, .jpg, .jpeg, .gif or .webp", dest)
			return ast.WalkStop, nil
		}
		if !seen[name] {
			seen[name] = true
			images = append(images, name)
		}
		img.Destination = []byte(ImagePath(slug, name))
		return ast.WalkContinue, nil
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return rendered{}, err
	}
	var b bytes.Buffer
	if err := r.md.Renderer().Render(&b, body, doc); err != nil {
		return rendered{}, fmt.Errorf("render: %w", err)
	}
	out := r.policy.SanitizeBytes(b.Bytes())
	words := html.UnescapeString(r.strict.Sanitize(string(out)))
	return rendered{HTML: string(out), Text: strings.Join(strings.Fields(words), " "), Images: images}, nil
}

// imageTypes are the images an article may carry, served inline. No SVG: it can hold
// script.
var imageTypes = map[string]string{
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".gif":  "image/gif",
	".webp": "image/webp",
}
