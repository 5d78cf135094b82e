package threading

import (
	"errors"
	"io"
	"strings"
	"unicode"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// StripHTML is StripText for an HTML body, and returns HTML. It lays the body out as lines
// (a line ends at <br> and at block boundaries), marks the lines inside quote elements as
// quoted, and applies the same rules as StripText to them, so plain and HTML bodies of one
// message agree. What it cuts it removes from the document tree, to the end of the document
// (or, for a bottom-posted reply, from its start), and the rest is rendered again.
//
// Markers it recognises, besides the text ones StripText knows (Outlook's From/Sent block,
// "-----Original Message-----", "On … wrote:", "&gt;" quoting as Hotmail sends it):
//   - quote elements: <blockquote> (Apple Mail's type="cite", Thunderbird's, Yandex's,
//     mail.ru's) and Gmail's div.gmail_quote, Yahoo's div.yahoo_quoted;
//   - Outlook: div#divRplyFwdMsg, div#appendonsend, an <hr> followed by a From block,
//     Outlook for Mac's span#OLK_SRC_BODY_SECTION, Hotmail's hr#stopSpelling;
//   - signatures: div.gmail_signature, div.moz-signature, div#Signature,
//     div#AppleMailSignature, a "-- " line, a "Sent from my iPhone" line.
//
// Classes are how Gmail, Yahoo and Thunderbird mark quotes, and a sanitizer such as
// bluemonday's UGCPolicy removes class and type attributes (it keeps id). So call StripHTML
// on the HTML as received and sanitize its result; on sanitized HTML it still works from
// <blockquote>, ids and text, only less precisely.
//
// If input is a whole document (it has an <html> tag) a whole document is returned,
// otherwise the body's content. If nothing is stripped, or stripping would leave nothing
// visible, or the input cannot be stripped in bounded time (nesting deeper than
// maxHTMLDepth), the input is returned unchanged.
func StripHTML(src string) string {
	if strings.TrimSpace(src) == "" || !htmlWithinLimits(src) {
		return src
	}
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return src
	}
	body := findElement(doc, atom.Body)
	if body == nil {
		return src
	}
	lines := layoutLines(body)
	texts := make([]string, len(lines))
	for i, l := range lines {
		texts[i] = l.text()
	}
	start, end := replyRange(texts, true)
	if start == 0 && end == len(lines) {
		return src
	}
	visible := false
	for i, t := range texts[start:end] {
		if !isBlank(t) && !lines[start+i].synthetic {
			visible = true
			break
		}
	}
	if !visible {
		return src
	}
	if end < len(lines) {
		removeFrom(lines[end].anchor, body)
	}
	if start > 0 {
		removeBefore(lines[start].anchor, body)
	}

	var b strings.Builder
	if strings.Contains(strings.ToLower(src), "<html") {
		if err := html.Render(&b, doc); err != nil {
			return src
		}
		return b.String()
	}
	for c := body.FirstChild; c != nil; c = c.NextSibling {
		if err := html.Render(&b, c); err != nil {
			return src
		}
	}
	return b.String()
}

// maxHTMLDepth bounds element nesting. golang.org/x/net/html checks element scope by
// walking the stack of open elements, so a document of n nested elements takes O(n²) to
// parse; real mail, even a long Gmail thread of nested quotes, stays far below this.
const maxHTMLDepth = 512

// htmlWithinLimits runs the tokenizer (linear time) to measure nesting before the parser
// (which is not) sees the input. Elements whose end tag is implied (p, li, td, …) do not
// nest in the parser and are not counted.
func htmlWithinLimits(src string) bool {
	z := html.NewTokenizer(strings.NewReader(src))
	depth := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return errors.Is(z.Err(), io.EOF)
		case html.StartTagToken:
			name, _ := z.TagName()
			if a := atom.Lookup(name); !voidElement[a] && !impliedEnd[a] {
				if depth++; depth > maxHTMLDepth {
					return false
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if a := atom.Lookup(name); !voidElement[a] && !impliedEnd[a] && depth > 0 {
				depth--
			}
		}
	}
}

var voidElement = map[atom.Atom]bool{
	atom.Area: true, atom.Base: true, atom.Br: true, atom.Col: true, atom.Embed: true,
	atom.Hr: true, atom.Img: true, atom.Input: true, atom.Link: true, atom.Meta: true,
	atom.Source: true, atom.Track: true, atom.Wbr: true,
}

var impliedEnd = map[atom.Atom]bool{
	atom.P: true, atom.Li: true, atom.Dt: true, atom.Dd: true, atom.Option: true,
	atom.Optgroup: true, atom.Tr: true, atom.Td: true, atom.Th: true, atom.Tbody: true,
	atom.Thead: true, atom.Tfoot: true, atom.Rb: true, atom.Rt: true, atom.Rp: true,
}

// blockElement starts and ends a line.
var blockElement = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true, atom.Blockquote: true,
	atom.Center: true, atom.Dd: true, atom.Details: true, atom.Div: true, atom.Dl: true,
	atom.Dt: true, atom.Fieldset: true, atom.Figure: true, atom.Footer: true, atom.Form: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Header: true, atom.Li: true, atom.Main: true, atom.Nav: true, atom.Ol: true,
	atom.P: true, atom.Pre: true, atom.Section: true, atom.Table: true, atom.Tr: true,
	atom.Ul: true, atom.Caption: true,
}

// skipped elements hold no visible text.
var skipped = map[atom.Atom]bool{
	atom.Head: true, atom.Style: true, atom.Script: true, atom.Template: true,
	atom.Title: true, atom.Noscript: true, atom.Object: true,
}

// quoteClasses mark a quote element in the clients that use a class for it.
var quoteClasses = []string{"gmail_quote", "gmail_quote_container", "yahoo_quoted"}

// signatureClasses and signatureIDs mark a signature block.
var signatureClasses = []string{"gmail_signature", "moz-signature"}
var signatureIDs = []string{"Signature", "AppleMailSignature", "ms-outlook-mobile-signature"}

// replyHeaderIDs mark where Outlook puts the previous message: the From/Sent block, the
// empty div it appends the reply before, Outlook for Mac's quoted section, and the rule
// Hotmail draws above its header.
var replyHeaderIDs = []string{"divRplyFwdMsg", "appendonsend", "OLK_SRC_BODY_SECTION", "stopSpelling"}

// htmlLine is one line of the laid-out body; anchor is its first node, from which a cut
// removes everything to the end of the document.
type htmlLine struct {
	anchor    *html.Node
	quoted    bool
	synthetic bool // a marker, not text anyone wrote
	b         strings.Builder
}

func (l *htmlLine) text() string {
	t := strings.TrimSpace(l.b.String())
	if l.quoted {
		return "> " + t
	}
	return t
}

// Synthetic lines stand for markers that have no text of their own, in the text form the
// plain-text rules already know.
const (
	markerHeader    = "-----Original Message-----"
	markerRule      = "----------"
	markerSignature = "--"
	markerObject    = "\uFFFC" // an image is content, though it has no text
)

type layout struct {
	lines []*htmlLine
	cur   *htmlLine
}

func (lo *layout) newLine() {
	if lo.cur != nil && lo.cur.anchor != nil {
		lo.lines = append(lo.lines, lo.cur)
	}
	lo.cur = &htmlLine{}
}

func (lo *layout) anchor(n *html.Node, quoted bool) {
	if lo.cur.anchor == nil {
		lo.cur.anchor = n
		lo.cur.quoted = quoted
	}
}

// synthetic emits a marker line anchored to n; n's own content follows on lines anchored
// to its children, so that a cut below the marker keeps the marker's element.
func (lo *layout) synthetic(n *html.Node, quoted bool, text string) {
	lo.newLine()
	lo.anchor(n, quoted)
	lo.cur.synthetic = true
	lo.cur.b.WriteString(text)
	lo.newLine()
}

// layoutLines lays out the body as lines. Depth is bounded by htmlWithinLimits.
func layoutLines(body *html.Node) []*htmlLine {
	lo := &layout{cur: &htmlLine{}}
	lo.walk(body, false)
	lo.newLine()
	return lo.lines
}

func (lo *layout) walk(n *html.Node, quoted bool) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case html.TextNode:
			lo.anchor(c, quoted)
			lo.cur.b.WriteString(collapseSpace(c.Data))
		case html.ElementNode:
			lo.element(c, quoted)
		}
	}
}

func (lo *layout) element(c *html.Node, quoted bool) {
	a := c.DataAtom
	switch {
	case skipped[a]:
		return
	case a == atom.Br:
		lo.anchor(c, quoted)
		lo.newLine()
		return
	case a == atom.Img:
		lo.anchor(c, quoted)
		lo.cur.b.WriteString(markerObject)
		return
	}
	inner := quoted || a == atom.Blockquote || hasClass(c, quoteClasses...)
	block := blockElement[a] || a == atom.Hr
	switch {
	case hasID(c, replyHeaderIDs...):
		lo.synthetic(c, quoted, markerHeader)
	case a == atom.Hr:
		lo.synthetic(c, quoted, markerRule)
	case hasClass(c, signatureClasses...) || hasID(c, signatureIDs...):
		lo.synthetic(c, quoted, markerSignature)
	case block || inner != quoted:
		lo.newLine()
		lo.anchor(c, inner)
	case a == atom.Td || a == atom.Th:
		lo.anchor(c, quoted)
		lo.cur.b.WriteByte(' ')
	default:
		lo.anchor(c, quoted)
	}
	lo.walk(c, inner)
	if block || inner != quoted {
		lo.newLine()
	}
}

// collapseSpace renders a text node's whitespace as a browser does outside <pre>.
func collapseSpace(s string) string {
	out := strings.Join(strings.Fields(s), " ")
	if out == "" {
		if s == "" {
			return ""
		}
		return " "
	}
	if strings.TrimLeftFunc(s, unicode.IsSpace) != s {
		out = " " + out
	}
	if strings.TrimRightFunc(s, unicode.IsSpace) != s {
		out += " "
	}
	return out
}

func hasClass(n *html.Node, names ...string) bool {
	for _, at := range n.Attr {
		if at.Key != "class" {
			continue
		}
		for _, f := range strings.Fields(at.Val) {
			for _, name := range names {
				if f == name {
					return true
				}
			}
		}
	}
	return false
}

func hasID(n *html.Node, ids ...string) bool {
	for _, at := range n.Attr {
		if at.Key != "id" {
			continue
		}
		for _, id := range ids {
			if at.Val == id {
				return true
			}
		}
	}
	return false
}

func findElement(n *html.Node, a atom.Atom) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.DataAtom == a {
			return c
		}
		if found := findElement(c, a); found != nil {
			return found
		}
	}
	return nil
}

// removeFrom removes n and everything after it in document order, up to the end of root.
func removeFrom(n, root *html.Node) {
	for x := n; x != nil && x != root; x = x.Parent {
		for s := x.NextSibling; s != nil; {
			next := s.NextSibling
			x.Parent.RemoveChild(s)
			s = next
		}
	}
	if n != root && n.Parent != nil {
		n.Parent.RemoveChild(n)
	}
}

// removeBefore removes everything before n in document order, within root, except n's
// ancestors.
func removeBefore(n, root *html.Node) {
	for x := n; x != nil && x != root; x = x.Parent {
		for s := x.PrevSibling; s != nil; {
			prev := s.PrevSibling
			x.Parent.RemoveChild(s)
			s = prev
		}
	}
}
