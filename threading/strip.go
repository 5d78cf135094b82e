package threading

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reply stripping: what a reader of the ticket needs to see of a reply. The full message
// stays stored and downloadable (docs/architecture.md, "The path of one message"); these functions only decide
// what is displayed and what goes into notifications, so when in doubt they keep text.
//
// The rules, in the order they are applied:
//
//  1. Hard cut. A reply header that introduces the whole previous message, with new text
//     above it, ends the reply: Outlook's "From: … Sent: … To: … Subject:" block (in the
//     languages Outlook ships), "-----Original Message-----" and its translations, and an
//     "On … wrote:" attribution that is not followed by ">"-quoted lines (clients that paste
//     the original unquoted).
//  2. Trailing history. From the end, repeatedly: a ">"-quoted block together with the
//     attribution line(s) above it, and (StripText only) the "-- " signature, a "Sent from
//     my iPhone" line, a mailing-list footer below a line of underscores, a "-Name" sign-off.
//  3. Bottom posting. If what is left holds exactly one quoted block, at the very top, with
//     new text only below it, the block is history and goes.
//
// Quoted blocks with new text after them are otherwise kept: that is an interleaved reply
// (pitfall 27, FreeScout#4263), where the quotes are the questions being answered.
//
// Forwards are not replies: callers should not strip a message whose subject says it is a
// forward (Fwd:, WG:, TR:, …), because the forwarded original is its content, and an
// Outlook forward carries the same "From: … Sent:" block as an Outlook reply.

// StripText returns what a reader needs to see of a plain-text reply: the new text,
// without the quoted history below or around it and without the sender's signature. Line
// endings become "\n"; leading blank lines and trailing whitespace are dropped. If there is
// nothing to strip, or stripping would leave nothing visible (a message that is entirely a
// quote or a forward), the input is returned unchanged, so a message never displays empty. The result is never longer
// than the input, and the time taken is linear in the input's length.
func StripText(text string) string {
	return stripPlain(text, true)
}

// stripQuotedText is StripText without the signature rules: it removes quoted history
// only. It is what the talon fixtures measure (talon strips signatures separately).
func stripQuotedText(text string) string {
	return stripPlain(text, false)
}

func stripPlain(text string, signatures bool) string {
	if strings.TrimSpace(text) == "" {
		return text
	}
	norm := strings.ReplaceAll(text, "\r\n", "\n")
	norm = strings.ReplaceAll(norm, "\r", "\n")
	lines := strings.Split(norm, "\n")
	start, end := replyRange(lines, signatures)
	out := strings.Join(lines[start:end], "\n")
	out = strings.TrimRightFunc(out, unicode.IsSpace)
	out = trimLeadingBlankLines(out)
	if strings.TrimSpace(out) == "" || strings.TrimSpace(out) == strings.TrimSpace(norm) {
		return text // nothing visible would be left, or nothing was stripped
	}
	return out
}

func trimLeadingBlankLines(s string) string {
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 || strings.TrimSpace(s[:i]) != "" {
			return s
		}
		s = s[i+1:]
	}
}

// maxAttributionLines is how many lines an "On … wrote:" line may be wrapped over. Gmail
// and Apple wrap long attributions at the address (email_reply_parser email_1_6 spans three).
const maxAttributionLines = 3

// maxAttributionLen bounds the text an attribution may have; it also keeps the regexps
// below from being run on long paragraphs.
const maxAttributionLen = 400

// maxSignatureLines is how many non-blank lines may follow a "-- " delimiter for it to
// count as a signature; a "--" above a long text is more likely a separator the writer typed.
const maxSignatureLines = 20

var (
	// attributionStart is how a wrapped attribution begins; it keeps a paragraph that merely
	// starts with "On" (email_reply_parser greedy_on) from being joined into one.
	attributionStart = regexp.MustCompile(`^(?i:on|am|le|el|op|den|il|em|w\s+dniu|dne|в|el\s+día|\d)`)

	// originalMessage is Outlook's and Outlook Express's separator, and its translations.
	originalMessage = regexp.MustCompile(`(?i)^[-_=\s]{2,}(original\s+message|ursprüngliche\s+nachricht|original-nachricht|originalnachricht|message\s+d'origine|mensaje\s+original|messaggio\s+originale|oorspronkelijk\s+bericht|originalmeddelande|ursprungligt\s+meddelande|opprinnelig\s+melding|oprindelig\s+meddelelse|alkuperäinen\s+viesti|wiadomość\s+oryginalna|oryginalna\s+wiadomość|mensagem\s+original|исходное\s+сообщение|původní\s+zpráva|eredeti\s+üzenet|orijinal\s+mesaj|原始邮件|元のメッセージ|reply\s+message)[-_=\s]{2,}$`)

	// separatorLine is the rule Outlook draws above its header block: underscores, dashes.
	separatorLine = regexp.MustCompile(`^\s*([-_=]\s*){5,}$`)

	// sentFrom matches the one-line signatures mobile clients append. The word limit keeps
	// "Sent from my desk, is much easier…" (a sentence) as content.
	sentFrom = regexp.MustCompile(`(?i)^\s*(sent\s+from\s+my\s+[\w-]+(\s+[\w-]+){0,3}|sent\s+from\s+(outlook|mail|yahoo\s+mail|aol\s+mobile\s+mail|gmail|samsung\s+mobile)(\s+for\s+[\w-]+(\s+[\w-]+)?)?|get\s+outlook\s+for\s+(ios|android)|von\s+meinem\s+[\w-]+(\s+[\w-]+){0,2}\s+gesendet|gesendet\s+von\s+meinem\s+[\w-]+(\s+[\w-]+){0,2}|envoyé\s+de\s+mon\s+[\w-]+(\s+[\w-]+){0,2}|enviado\s+desde\s+mi\s+[\w-]+(\s+[\w-]+){0,2}|enviado\s+do\s+meu\s+[\w-]+(\s+[\w-]+){0,2}|inviato\s+da(l\s+mio)?\s+[\w-]+(\s+[\w-]+){0,2}|verzonden\s+(vanaf|met)\s+mijn\s+[\w-]+(\s+[\w-]+){0,2}|skickat\s+från\s+min\s+[\w-]+(\s+[\w-]+){0,2}|sendt\s+fra\s+min\s+[\w-]+(\s+[\w-]+){0,2}|wysłane\s+z\s+mojego\s+[\w-]+(\s+[\w-]+){0,2}|отправлено\s+с\s+(моего\s+)?[\w-]+(\s+[\w-]+){0,2}|iphoneから送信)[.!]?\s*$`)

	// dashSignoff is "-Name" on its own line at the end, which email_reply_parser treats as
	// a signature; "- item" (a list) has a space and is not one.
	dashSignoff = regexp.MustCompile(`^-\pL[\pL\pM.' -]{0,40}$`)

	// underscoreRule starts a mailing-list footer (Mailman) at the end of a message.
	underscoreRule = regexp.MustCompile(`^\s*_{5,}\s*$`)
)

// attributionVerbs end an attribution line in the languages mail clients ship: English
// "wrote:", German "schrieb Name <addr>:" (the name may follow the verb), French "a écrit :",
// Spanish "escribió:", Dutch "schreef"/"het volgende geschreven:", Scandinavian "skrev",
// Italian "ha scritto:", Portuguese "escreveu:", Polish "napisał(a):"/"pisze:", Russian
// "написал(а):"/"пишет:", Czech, Finnish, Hungarian, Turkish, Chinese "写道：", Japanese
// "のメッセージ:", Korean "작성:". They are matched as lower-case substrings after the last
// colon but one (times such as 16:19 come before the verb); a regexp with (?i) and this
// many alternatives costs microseconds per byte in Go's backtracker.
var attributionVerbs = []string{
	"wrote", "writes", "schrieb", "schreef", "geschreven", "skrev", "a écrit", "escribió",
	"escreveu", "ha scritto", "scrisse", "napisał", "pisze", "написал", "пишет", "napsal",
	"kirjoitti", "írta", "yazdı", "写道", "寫道", "のメッセージ", "작성",
}

// Header block fields, and the labels Outlook uses for them in the languages it ships.
// The bold markers around a label are how Outlook's HTML-to-text conversion renders
// <b>From:</b>.
const (
	fieldFrom = 1 + iota
	fieldDate
	fieldTo
	fieldSubject
	fieldCc
)

var headerLabels = func() map[string]int {
	m := map[string]int{}
	for f, labels := range map[int]string{
		fieldFrom:    "from von de da van från fra od от lähettäjä feladó kimden afzender remitente mittente 差出人 发件人 寄件者 보낸_사람",
		fieldDate:    "sent date datum gesendet envoyé enviado fecha data inviato verzonden skickat sendt wysłano отправлено дата lähetetty elküldve tarih gönderildi 送信日時 日付 发送时间 日期 보낸_날짜",
		fieldTo:      "to an à a para aan till til do кому vastaanottaja címzett kime 宛先 收件人 받는_사람",
		fieldSubject: "subject betreff objet asunto oggetto onderwerp ämne emne temat тема aihe tárgy konu assunto 件名 主题 主旨 제목",
		fieldCc:      "cc kopie kopia копия",
	} {
		for _, l := range strings.Fields(labels) {
			m[strings.ReplaceAll(l, "_", " ")] = f
		}
	}
	return m
}()

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

func isQuoted(s string) bool {
	return strings.HasPrefix(strings.TrimLeft(s, " \t"), ">")
}

// isContent is a line of new text: neither blank nor quoted.
func isContent(s string) bool { return !isBlank(s) && !isQuoted(s) }

// attributionAt reports how many lines, starting at i, form an attribution ("On … wrote:"),
// 0 if none. A wrapped attribution must start the way one does (attributionStart).
func attributionAt(lines []string, i int) int {
	if i >= len(lines) || !isContent(lines[i]) {
		return 0
	}
	joined := ""
	for k := 1; k <= maxAttributionLines && i+k <= len(lines); k++ {
		l := lines[i+k-1]
		if !isContent(l) {
			return 0
		}
		if k == 1 {
			joined = strings.TrimSpace(l)
		} else {
			if !attributionStart.MatchString(firstBytes(joined, 16)) {
				return 0
			}
			joined += " " + strings.TrimSpace(l)
		}
		if len(joined) > maxAttributionLen {
			return 0
		}
		if isAttribution(joined) {
			return k
		}
	}
	return 0
}

// attributionTail is how much of the end of a line the attribution patterns look at: the
// verb and the name or address after it. Looking at a bounded tail, and only of lines that
// end in a colon, keeps the case-folding regexps off ordinary text (they cost microseconds
// per byte in Go's backtracker).
const attributionTail = 160

func isAttribution(s string) bool {
	s = strings.TrimSpace(strings.TrimLeft(s, "*# "))
	rest, ok := strings.CutSuffix(s, ":")
	if !ok {
		if rest, ok = strings.CutSuffix(s, "："); !ok {
			return false
		}
	}
	tail := lastBytes(rest, attributionTail)
	if strings.ContainsAny(s, "0123456789") && endsWithAddress(tail) {
		return true
	}
	if i := strings.LastIndexAny(tail, ":："); i >= 0 {
		tail = tail[i+1:]
	}
	tail = strings.Join(strings.Fields(strings.ToLower(tail)), " ")
	for _, v := range attributionVerbs {
		if strings.Contains(tail, v) {
			return true
		}
	}
	return false
}

// endsWithAddress reports whether s ends in an address: attributions with no verb at all
// are a date, a name and an address before the colon: Yandex `26.06.2014, 14:41, "Name"
// <a@b>:`, mail.ru "… от Name <a@b>:", Gmail in Japanese "2020年3月12日(木) 10:00 Name <a@b>:".
func endsWithAddress(s string) bool {
	s = strings.TrimSuffix(strings.TrimRight(s, " \t"), ">")
	tok := s[strings.LastIndexAny(s, " \t<\"")+1:]
	at := strings.IndexByte(tok, '@')
	return at > 0 && strings.Contains(tok[at+1:], ".") && !strings.Contains(tok[at+1:], "@")
}

// lastBytes returns about the last n bytes of s, starting at a rune boundary.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	return s
}

// firstBytes returns at most the first n bytes of s; a rune cut in half at the end is
// harmless to the anchored patterns it is used with.
func firstBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// isSeparatorish reports whether a line can be a rule or an "Original Message" line,
// before any regexp is run on it.
func isSeparatorish(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) >= 5 && len(s) <= 120 && (s[0] == '-' || s[0] == '_' || s[0] == '=')
}

func isOriginalMessage(s string) bool { return isSeparatorish(s) && originalMessage.MatchString(s) }

func isSeparatorLine(s string) bool { return isSeparatorish(s) && separatorLine.MatchString(s) }

// headerField names the field of an Outlook header block line ("From: …", "*Sent:* …"),
// or returns 0.
func headerField(s string) int {
	head := firstBytes(s, 48)
	i := strings.IndexAny(head, ":：")
	if i < 0 || i > 24 { // the longest label, "*Vastaanottaja*", is shorter
		return 0
	}
	label := strings.Trim(head[:i], " \t*")
	label = strings.Join(strings.Fields(strings.ToLower(label)), " ")
	return headerLabels[label]
}

// isSentFrom and isDashSignoff look only at short lines, as the lines they match are.
func isSentFrom(s string) bool { return len(s) <= 120 && sentFrom.MatchString(s) }

func isDashSignoff(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) <= 60 && strings.HasPrefix(s, "-") && dashSignoff.MatchString(s)
}

// attributionEndingAt reports where an attribution ending at line j starts, or -1. The
// longest wins: "wrote:" alone on the last line of a wrapped attribution is one too.
func attributionEndingAt(lines []string, j int) int {
	for k := maxAttributionLines; k >= 1; k-- {
		s := j - k + 1
		if s < 0 {
			continue
		}
		if attributionAt(lines, s) == k {
			return s
		}
	}
	return -1
}

// headerBlockAt reports whether an Outlook-style header block starts at line i: a From
// (or Date, as Hotmail orders it) line followed within a few lines by at least two other
// distinct fields, one of them From.
func headerBlockAt(lines []string, i int) bool {
	if f := headerField(lines[i]); f != fieldFrom && f != fieldDate {
		return false
	}
	var seen [fieldCc + 1]bool
	distinct := 0
	for j, gap := i, 0; j < len(lines) && j < i+10; j++ {
		if isBlank(lines[j]) || isQuoted(lines[j]) {
			break
		}
		f := headerField(lines[j])
		if f == 0 {
			// One wrapped line (a long To: list) is tolerated, two are not.
			if gap++; gap > 1 {
				break
			}
			continue
		}
		gap = 0
		if !seen[f] {
			seen[f] = true
			distinct++
		}
	}
	return seen[fieldFrom] && distinct >= 3
}

// hardCut returns the index of the first line of a reply header that introduces the whole
// earlier message (rule 1), or len(lines). A header with no new text above it is skipped:
// cutting there would leave nothing.
func hardCut(lines []string) int {
	contentAbove := false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if !isContent(l) {
			continue
		}
		if contentAbove {
			if isOriginalMessage(l) {
				return i
			}
			if headerBlockAt(lines, i) {
				return separatorAbove(lines, i)
			}
			if k := attributionAt(lines, i); k > 0 && attributionStart.MatchString(firstBytes(strings.TrimSpace(l), 16)) {
				next := i + k
				for next < len(lines) && isBlank(lines[next]) {
					next++
				}
				if next == len(lines) || !isQuoted(lines[next]) {
					return i
				}
				i = next - 1
				continue
			}
		}
		if !isSeparatorLine(l) {
			contentAbove = true
		}
	}
	return len(lines)
}

// separatorAbove moves a cut at line i up to the rule or "Original Message" line Outlook
// draws above its header block, if there is one within a blank line.
func separatorAbove(lines []string, i int) int {
	for j, blanks := i-1, 0; j >= 0; j-- {
		if isBlank(lines[j]) {
			if blanks++; blanks > 2 {
				break
			}
			continue
		}
		if isSeparatorLine(lines[j]) || isOriginalMessage(lines[j]) {
			return j
		}
		break
	}
	return i
}

// peelTrailing removes trailing history from lines[:end] (rule 2) and returns the new end.
func peelTrailing(lines []string, end int, signatures bool) int {
	for {
		for end > 0 && isBlank(lines[end-1]) {
			end--
		}
		if end == 0 {
			return 0
		}
		last := lines[end-1]
		switch {
		case isQuoted(last):
			end = quoteRunStart(lines, end)
			continue
		case !signatures:
			return end
		case isSentFrom(last):
			end--
			continue
		case isDashSignoff(last) && end >= 2 && isBlank(lines[end-2]):
			end--
			continue
		}
		if s := signatureStart(lines, end); s >= 0 {
			end = s
			continue
		}
		return end
	}
}

// quoteRunStart returns where the quoted block ending at end-1 begins, including blank
// lines inside it and the attribution above it.
func quoteRunStart(lines []string, end int) int {
	s := end
	for j := end - 1; j >= 0; j-- {
		if isQuoted(lines[j]) {
			s = j
		} else if !isBlank(lines[j]) {
			break
		}
	}
	j := s - 1
	for j >= 0 && isBlank(lines[j]) {
		j--
	}
	if j >= 0 {
		if a := attributionEndingAt(lines, j); a >= 0 {
			return a
		}
	}
	return s
}

// signatureStart finds a "-- " delimiter (or "--", since many clients trim the space, or a
// mailing-list underscore rule) with at most maxSignatureLines lines of text below it.
func signatureStart(lines []string, end int) int {
	n := 0
	for j := end - 1; j >= 0 && n <= maxSignatureLines; j-- {
		l := lines[j]
		if isBlank(l) {
			continue
		}
		if isQuoted(l) {
			return -1
		}
		if strings.TrimRight(l, " \t") == "--" || (isSeparatorish(l) && underscoreRule.MatchString(l)) {
			return j
		}
		n++
	}
	return -1
}

// replyRange applies the three rules to lines and returns the range to keep. StripHTML
// runs it on the lines of a rendered HTML body, so both agree on what a reply is.
func replyRange(lines []string, signatures bool) (start, end int) {
	end = hardCut(lines)
	end = peelTrailing(lines, end, signatures)
	start = bottomPostedStart(lines[:end])
	return start, end
}

// bottomPostedStart returns where the new text of a bottom-posted reply starts (rule 3):
// after the single quoted block at the top. Two or more blocks mean an interleaved reply,
// which is left alone, as is a reply with new text above its first quote.
func bottomPostedStart(lines []string) int {
	i := 0
	for i < len(lines) && isBlank(lines[i]) {
		i++
	}
	if i == len(lines) {
		return 0
	}
	if k := attributionAt(lines, i); k > 0 {
		i += k
		for i < len(lines) && isBlank(lines[i]) {
			i++
		}
	}
	if i == len(lines) || !isQuoted(lines[i]) {
		return 0
	}
	for i < len(lines) && (isQuoted(lines[i]) || isBlank(lines[i])) {
		i++
	}
	if i == len(lines) {
		return 0
	}
	for _, l := range lines[i:] {
		if isQuoted(l) {
			return 0
		}
	}
	return i
}
