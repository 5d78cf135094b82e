package threading

import (
	"io"
	"mime/quotedprintable"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStripText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "Gmail's attribution and quote below the reply are removed",
			in:   "Thanks, that fixed it.\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Megan One <megan@example.com> wrote:\n\n> Did the reset work?\n> \n",
			want: "Thanks, that fixed it.",
		},
		{
			name: "German Thunderbird attribution with the name after schrieb is removed",
			in:   "Danke, erledigt.\n\nAm 07.05.2012 08:10, schrieb Martin Support <support@example.com>:\n> Hallo Marc,\n> bitte neu starten.\n",
			want: "Danke, erledigt.",
		},
		{
			name: "French attribution with a space before the colon is removed",
			in:   "Merci !\n\nLe 3 avr. 2012 à 16:19, Bob <bob@example.com> a écrit :\n\n> Bonjour\n",
			want: "Merci !",
		},
		{
			name: "Spanish attribution is removed",
			in:   "Gracias.\n\nEl 3 abr 2012, a las 16:19, Bob <bob@example.com> escribió:\n> Hola\n",
			want: "Gracias.",
		},
		{
			name: "Dutch attribution is removed",
			in:   "Bedankt.\n\nOp di 3 apr. 2012 om 16:19 schreef Bob <bob@example.com>:\n> Hallo\n",
			want: "Bedankt.",
		},
		{
			name: "Swedish, Norwegian and Danish attributions with skrev are removed",
			in:   "Tack.\n\nDen 3 apr. 2012 kl. 16:19 skrev Bob <bob@example.com>:\n> Hej\n",
			want: "Tack.",
		},
		{
			name: "Italian attribution is removed",
			in:   "Grazie.\n\nIl giorno 3 apr 2012, alle ore 16:19, Bob <bob@example.com> ha scritto:\n> Ciao\n",
			want: "Grazie.",
		},
		{
			name: "Portuguese attribution is removed",
			in:   "Obrigado.\n\nEm 3 de abr de 2012, às 16:19, Bob <bob@example.com> escreveu:\n> Olá\n",
			want: "Obrigado.",
		},
		{
			name: "Polish attribution is removed",
			in:   "Dzięki.\n\nW dniu 3.04.2012 16:19, Bob <bob@example.com> napisał:\n> Cześć\n",
			want: "Dzięki.",
		},
		{
			name: "Russian attribution wrapped by Android over two lines is removed",
			in:   "Спасибо\n02.04.2012 14:20 пользователь \"bob@example.com\" <\nbob@example.com> написал:\n\n> Привет\n",
			want: "Спасибо",
		},
		{
			name: "Japanese Gmail attribution without a verb is removed",
			in:   "ありがとう\n\n2020年3月12日(木) 10:00 Bob <bob@example.com>:\n> こんにちは\n",
			want: "ありがとう",
		},
		{
			name: "attribution wrapped over three lines is removed",
			in:   "Works now.\n\nOn Dec 16, 2011, at 12:47 PM, Corey Donohoe\n<reply@example.com>\nwrote:\n\n> Was this fixed?\n",
			want: "Works now.",
		},
		{
			name: "Outlook From Sent To Subject block ends the reply, unquoted original and all",
			in:   "Hello\n\nFrom: Support [mailto:support@example.com]\nSent: Friday, March 09, 2012 4:22 PM\nTo: Dan\nSubject: Your ticket\n\nHi Dan,\nwe looked into it.\n",
			want: "Hello",
		},
		{
			name: "Outlook block under an underscore rule loses the rule too",
			in:   "Reply directly above the line\n________________________________________\nFrom: CRM <crm@example.com>\nSent: Friday, 23 March 2012 5:08 p.m.\nTo: John\nSubject: [contact:106]\n\nA new comment.\n",
			want: "Reply directly above the line",
		},
		{
			name: "Outlook's bold plain-text rendering of the block is recognised",
			in:   "Outlook with a reply\n\n ------------------------------\n\n*From:* Team [mailto:noreply@example.com]\n*Sent:* Thursday, February 09, 2012 1:36 PM\n*To:* jow@example.com\n*Subject:* Updated!\n\nDear user,\n",
			want: "Outlook with a reply",
		},
		{
			name: "German Outlook Von Gesendet An Betreff block is removed",
			in:   "Passt, danke.\n\nVon: Support <support@example.com>\nGesendet: Montag, 7. Mai 2012 08:10\nAn: Marc <marc@example.com>\nBetreff: AW: Installation\n\nHallo Marc,\n",
			want: "Passt, danke.",
		},
		{
			name: "Original Message separator ends the reply",
			in:   "Hello\n\n\n-----Original Message-----\nFrom: bob <bob@example.com>\nSent: Mon, Apr 2, 2012 5:49 pm\nSubject: Test\n\nHi\n",
			want: "Hello",
		},
		{
			name: "German Ursprüngliche Nachricht separator ends the reply",
			in:   "Erledigt.\n\n-----Ursprüngliche Nachricht-----\nVon: Bob\nGesendet: Montag\nBetreff: Test\n\nHallo\n",
			want: "Erledigt.",
		},
		{
			name: "quoted-printable Outlook reply is matched after decoding",
			in:   decodeQP(t, "Hello=\r\n\r\n-----Original Mess=\r\nage-----\r\nFrom: bob <bob@example.com>=20\r\nSent: Mon, Apr 2, 2012 5:49 pm\r\nTo: Support\r\nSubject: Test\r\n\r\nHi=E2=80=99s\r\n"),
			want: "Hello",
		},
		{
			name: "interleaved reply keeps the quotes it answers and drops the trailing quote",
			in:   "On Tue, Apr 29, 2014 at 4:22 PM, Tim <tim@example.com> wrote:\n\n> Which version do you run?\n\n2.4.1\n\n> Does it happen after a restart?\n\nYes, every time.\n\n> Thanks,\n> Tim\n",
			want: "On Tue, Apr 29, 2014 at 4:22 PM, Tim <tim@example.com> wrote:\n\n> Which version do you run?\n\n2.4.1\n\n> Does it happen after a restart?\n\nYes, every time.",
		},
		{
			name: "a reply with text above and below one quote keeps the quote",
			in:   "Hi,\nOn Tue, 2011-03-01 at 18:02 +0530, Abhishek wrote:\n> How do I clear a bucket?\n\nList the keys and delete each.\n",
			want: "Hi,\nOn Tue, 2011-03-01 at 18:02 +0530, Abhishek wrote:\n> How do I clear a bucket?\n\nList the keys and delete each.\n",
		},
		{
			name: "bottom-posted reply loses the single quote above it",
			in:   "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi\nHello\n",
			want: "Hello",
		},
		{
			name: "Sent from my iPhone is removed",
			in:   "Here is another email\n\nSent from my iPhone\n",
			want: "Here is another email",
		},
		{
			name: "Sent from my Android phone is removed with the quote below it",
			in:   "Ok\n\nSent from my Android phone\n\nOn Apr 3, 2012, at 4:19 PM, bob <bob@example.com> wrote:\n\n> Hi\n",
			want: "Ok",
		},
		{
			name: "Von meinem iPhone gesendet is removed",
			in:   "Passt.\n\nVon meinem iPhone gesendet\n",
			want: "Passt.",
		},
		{
			name: "a sentence that starts with Sent from is kept",
			in:   "Here is another email\n\nSent from my desk, is much easier then my mobile phone.\n",
			want: "Here is another email\n\nSent from my desk, is much easier then my mobile phone.\n",
		},
		{
			name: "signature below the dash-dash-space separator is removed",
			in:   "this is an email with a correct -- signature.\n\n-- \nrick\n",
			want: "this is an email with a correct -- signature.",
		},
		{
			name: "a double dash inside a line is not a signature",
			in:   "And here is a fix -- this is not a signature.\n\nkthxbai\n",
			want: "And here is a fix -- this is not a signature.\n\nkthxbai\n",
		},
		{
			name: "signature after the trailing quote is removed with it",
			in:   "test 2\n\nOn Fri, Feb 24, 2012 at 10:19 AM, <examples@example.com> wrote:\n\n> Give us an example\n\n\n-- \n\n*Joe Smith | Director*\n",
			want: "test 2",
		},
		{
			name: "a paragraph starting with On that is not an attribution is kept",
			in:   "On your remote host you can run:\n\n     telnet 127.0.0.1 52698\n\nOn 9 Jan 2014, at 2:47, George wrote:\n\n> I am having an odd issue\n",
			want: "On your remote host you can run:\n\n     telnet 127.0.0.1 52698",
		},
		{
			name: "a message that is entirely a quote is returned unchanged",
			in:   "> all of it\n> is quoted\n",
			want: "> all of it\n> is quoted\n",
		},
		{
			name: "a forward with nothing above the Outlook block is returned unchanged",
			in:   "From: Bob <bob@example.com>\nSent: Monday\nTo: Alice\nSubject: Invoice\n\nPlease pay.\n",
			want: "From: Bob <bob@example.com>\nSent: Monday\nTo: Alice\nSubject: Invoice\n\nPlease pay.\n",
		},
		{
			name: "CRLF line endings are handled and become LF",
			in:   ":+1:\r\n\r\nOn Tue, Sep 25, 2012 at 8:59 AM, Chris\r\n<notifications@example.com>wrote:\r\n\r\n> Steps 0-2 are in prod.\r\n>\r\n",
			want: ":+1:",
		},
		{
			name: "a message with no history is returned byte for byte",
			in:   "Just a question:\nwhere is my invoice?\n\n",
			want: "Just a question:\nwhere is my invoice?\n\n",
		},
		{
			name: "empty input stays empty",
			in:   "",
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripText(tt.in); got != tt.want {
				t.Errorf("StripText:\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
}

func decodeQP(t *testing.T, s string) string {
	t.Helper()
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(s)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStripHTML(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "Gmail div.gmail_quote is removed and what is above it kept",
			in:   `<div dir="ltr">Thanks, fixed.</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Apr 2, 2012 at 6:26 PM, Megan &lt;<a href="mailto:m@example.com">m@example.com</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0">Did it work?</blockquote></div>`,
			want: `<div dir="ltr">Thanks, fixed.</div>`,
		},
		{
			name: "Gmail quote stripped of its class by a sanitizer is still removed with its attribution",
			in:   `<div>Thanks, fixed.</div><div>On Mon, Apr 2, 2012 at 6:26 PM, Megan &lt;<a href="mailto:m@example.com">m@example.com</a>&gt; wrote:<br><blockquote>Did it work?</blockquote></div>`,
			want: `<div>Thanks, fixed.</div>`,
		},
		{
			name: "Apple Mail blockquote type=cite is removed with the attribution above it",
			in:   `<div>Sounds good.</div><div><br><div>On Aug 22, 2015, at 19:21, Adam &lt;adam@example.com&gt; wrote:</div><br><blockquote type="cite"><div>Hi there!</div></blockquote></div>`,
			want: `<div>Sounds good.</div>`,
		},
		{
			name: "Outlook appendonsend and divRplyFwdMsg block is removed to the end",
			in:   `<div>Done, thanks.</div><div id="appendonsend"></div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Support &lt;support@example.com&gt;<br><b>Sent:</b> Monday, May 7, 2012 08:10<br><b>To:</b> Marc<br><b>Subject:</b> Re: Installation</div><div>Hello Marc</div>`,
			want: `<div>Done, thanks.</div>`,
		},
		{
			name: "Outlook desktop border-top header in German is removed to the end",
			in:   `<div class="WordSection1"><p class="MsoNormal">Passt, danke.</p><p class="MsoNormal">&nbsp;</p><div style="border:none;border-top:solid #E1E1E1 1.0pt"><p class="MsoNormal"><b>Von:</b> Support &lt;support@example.com&gt;<br><b>Gesendet:</b> Montag, 7. Mai 2012 08:10<br><b>An:</b> Marc<br><b>Betreff:</b> AW: Installation</p></div><p class="MsoNormal">Hallo Marc</p></div>`,
			want: `<div class="WordSection1"><p class="MsoNormal">Passt, danke.</p></div>`,
		},
		{
			name: "an hr followed by a From block is removed with the hr",
			in:   `<div>Hello<br><br><hr id="zwchr"><b>From: </b>bob@example.com<br><b>To: </b>alice@example.com<br><b>Sent: </b>Monday, April 2, 2012 5:44:22 PM<br><b>Subject: </b>Test<br><br>Hi<br></div>`,
			want: `<div>Hello<br/></div>`,
		},
		{
			name: "Thunderbird moz-cite-prefix and its blockquote are removed",
			in:   `<p>Hi. I am fine.</p><div class="moz-cite-prefix">On 26.06.2014 14:41, Alexander L wrote:<br></div><blockquote type="cite" cite="mid:x@example.com">Hello! How are you?</blockquote>`,
			want: `<p>Hi. I am fine.</p>`,
		},
		{
			name: "interleaved HTML reply keeps the blockquotes it answers and drops the trailing one",
			in:   `<blockquote>Which version?</blockquote><div>2.4.1</div><blockquote>After a restart?</blockquote><div>Yes.</div><blockquote>Thanks, Tim</blockquote>`,
			want: `<blockquote>Which version?</blockquote><div>2.4.1</div><blockquote>After a restart?</blockquote><div>Yes.</div>`,
		},
		{
			name: "Hotmail text-quoted lines under SkyDrivePlaceholder are removed",
			in:   `<div dir='ltr'>Hello<br><br><div><div id="SkyDrivePlaceholder"></div>&gt; Subject: Test<br>&gt; From: bob@example.com<br>&gt; <br>&gt; Hi<br></div></div>`,
			want: `<div dir="ltr">Hello<br/></div>`,
		},
		{
			name: "Sent from my iPhone at the end is removed",
			in:   `<div>On my way.</div><div><br></div><div id="AppleMailSignature">Sent from my iPhone</div>`,
			want: `<div>On my way.</div>`,
		},
		{
			name: "Gmail signature block is removed",
			in:   `<div>See you then.</div><br>-- <br><div class="gmail_signature">Jane Doe<br>ACME Support</div>`,
			want: `<div>See you then.</div>`,
		},
		{
			name: "an inline image above the quote stays and one inside it goes",
			in:   `<div>Screenshot: <img src="cid:shot@example.com"></div><div>On Mon, Apr 2, 2012 at 6:26 PM, Megan &lt;m@example.com&gt; wrote:</div><blockquote><img src="cid:logo@example.com"></blockquote>`,
			want: `<div>Screenshot: <img src="cid:shot@example.com"/></div>`,
		},
		{
			name: "HTML that is entirely a quote is returned unchanged",
			in:   `<blockquote>Only history here</blockquote>`,
			want: `<blockquote>Only history here</blockquote>`,
		},
		{
			name: "a whole document stays a whole document",
			in:   `<html><body><div>Reply</div><span id="OLK_SRC_BODY_SECTION"><div><span>From: </span>Bob<br><span>Date: </span>Tue<br><span>To: </span>Rob<br><span>Subject: </span>Test</div></span></body></html>`,
			want: `<html><head></head><body><div>Reply</div></body></html>`,
		},
		{
			name: "HTML with nothing to strip is returned byte for byte",
			in:   `<p>Where is my <b>invoice</b>?</p>`,
			want: `<p>Where is my <b>invoice</b>?</p>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripHTML(tt.in); got != tt.want {
				t.Errorf("StripHTML:\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestStripPathologicalInputs checks that hostile shapes are handled (their speed is
// measured by the benchmarks below, not asserted here).
func TestStripPathologicalInputs(t *testing.T) {
	quotes := strings.Repeat(">\n", 100000)
	if got := StripText(quotes); got != quotes {
		t.Error("100k quote-only lines: want the input back unchanged")
	}
	if got := StripText("reply\n" + quotes); got != "reply" {
		t.Errorf("reply above 100k quote lines: got %.40q", got)
	}
	deep := "<div>reply</div>" + strings.Repeat("<blockquote>", 100000) + "history"
	if got := StripHTML(deep); got != deep {
		t.Error("nesting beyond maxHTMLDepth: want the input back unchanged")
	}
	shallow := "<div>reply</div>" + strings.Repeat("<blockquote>", 100) + "history"
	if got := StripHTML(shallow); got != "<div>reply</div>" {
		t.Errorf("100 nested blockquotes: got %.60q", got)
	}
}

var stripSeeds = []string{
	"",
	"Hello\n\nOn Mon, Apr 2, 2012 at 6:26 PM, A <a@example.com> wrote:\n\n> Hi\n",
	"Hello\n\nFrom: a\nSent: b\nTo: c\nSubject: d\n\nHi",
	"> a\nb\n> c\nd\n> e\n",
	"x\n-- \nsig\n",
	"Sent from my iPhone",
	"\r\n\r\n>\r",
	"On\nOn\nwrote:\n>",
	"-----Original Message-----\n",
}

func FuzzStripText(f *testing.F) {
	for _, s := range stripSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := StripText(in)
		if len(out) > len(in) {
			t.Fatalf("output longer than input: %q -> %q", in, out)
		}
		if strings.TrimSpace(in) != "" && strings.TrimSpace(out) == "" {
			t.Fatalf("non-empty input stripped to nothing: %q", in)
		}
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("valid UTF-8 in, invalid out: %q", out)
		}
	})
}

func FuzzStripHTML(f *testing.F) {
	for _, s := range stripSeeds {
		f.Add(s)
	}
	f.Add(`<div>a</div><div class="gmail_quote">On x wrote:<blockquote>b</blockquote></div>`)
	f.Add(`<blockquote>a</blockquote>b<blockquote>c</blockquote>`)
	f.Add(`<p>a<hr><b>From:</b> x<br><b>Sent:</b> y<br><b>To:</b> z</p>`)
	f.Add(`<html><body><span id="OLK_SRC_BODY_SECTION">x</span></body></html>`)
	f.Add(`<A id="OLK_SRC_BODY_SECTION">`) // once emptied: a marker is not visible text
	f.Fuzz(func(t *testing.T, in string) {
		out := StripHTML(in)
		if strings.TrimSpace(in) != "" && out == "" {
			t.Fatalf("non-empty input stripped to nothing: %q", in)
		}
	})
}

func BenchmarkStripTextTypicalReply(b *testing.B) {
	in := strings.Repeat("Thanks for the quick answer, this works now.\n", 10) +
		"\nOn Mon, Apr 2, 2012 at 6:26 PM, Megan One <megan@example.com> wrote:\n\n" +
		strings.Repeat("> Please restart the service and tell us what happens.\n", 40)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		StripText(in)
	}
}

// BenchmarkStripTextQuoteLines and the other pathological benchmarks come in sizes a
// factor of ten apart, so ns/op shows the growth: it should be about tenfold.
func BenchmarkStripTextQuoteLines(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		in := "reply\n" + strings.Repeat(">\n", n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				StripText(in)
			}
		})
	}
}

func BenchmarkStripTextAttributionLines(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		in := strings.Repeat("On Mon, 2 Apr 2012 Megan <m@example.com> wrote:\n> question\nanswer\n", n/3)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				StripText(in)
			}
		})
	}
}

func BenchmarkStripHTMLNestedBlockquotes(b *testing.B) {
	for _, n := range []int{50, 500, 5000, 100000} {
		in := "<div>reply</div>" + strings.Repeat("<blockquote>x", n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				StripHTML(in)
			}
		})
	}
}

func BenchmarkStripHTMLInterleavedBlockquotes(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		in := strings.Repeat("<p>answer</p><blockquote>question</blockquote>", n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				StripHTML(in)
			}
		})
	}
}
