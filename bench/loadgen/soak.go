package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// cmdSoak sends mixed traffic for a while: new tickets, replies to the acknowledgements
// the sink has seen (to their signed Reply-To, with In-Reply-To), auto-replies, bounces,
// malformed MIME and messages over the size limit. Every accepted Message-ID goes to
// -accepted; oversized messages must be refused (5xx) and are counted, not retried.
func cmdSoak(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:2525", "server address (loopback)")
	conc := fs.Int("c", 8, "concurrent senders")
	duration := fs.Duration("duration", 30*time.Minute, "how long to send")
	rate := fs.Float64("rate", 100, "messages per second at most, all senders together")
	tdir := fs.String("templates", "", "templates for new tickets (loadgen gen)")
	sinkLog := fs.String("sink-log", "", "the ack sink's log: replies go to the acknowledgements in it")
	accepted := fs.String("accepted", "", "append accepted Message-IDs here")
	maxBytes := fs.Int("max-bytes", 2<<20, "the server's max_message_bytes: oversized messages exceed it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tmpls, err := loadTemplates(*tdir)
	if err != nil {
		return err
	}
	acc, err := openLines(*accepted)
	if err != nil {
		return err
	}
	defer acc.Close()
	acks := &ackPool{path: *sinkLog}
	go acks.follow()

	stop := make(chan struct{})
	var once sync.Once
	halt := func() { once.Do(func() { close(stop) }) }
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; halt() }()
	time.AfterFunc(*duration, halt)
	tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
	defer tick.Stop()

	type counter struct{ sent, accepted, refused, tempfail atomic.Int64 }
	kinds := []string{"new", "reply", "auto", "bounce", "malformed", "oversized"}
	weights := []int{45, 22, 10, 6, 15, 2}
	stats := map[string]*counter{}
	for _, k := range kinds {
		stats[k] = &counter{}
	}
	var seq atomic.Int64
	prefix := fmt.Sprintf("soak.%d", time.Now().UnixNano()%1e9)
	var wg sync.WaitGroup
	var unexpected atomic.Int64
	var firstUnexpected atomic.Value
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				kind := pick(rng, kinds, weights)
				i := seq.Add(1)
				mid := fmt.Sprintf("%s.%d@loadgen.example.org", prefix, i)
				env, ok := soakMessage(rng, kind, mid, tmpls, acks, *maxBytes)
				if !ok {
					kind = "new"
					env, _ = soakMessage(rng, kind, mid, tmpls, acks, *maxBytes)
				}
				c := stats[kind]
				c.sent.Add(1)
				for attempt := 0; ; attempt++ {
					o := sendOne(*addr, "soak.example.org", env, time.Minute)
					switch {
					case o.accepted() && kind == "oversized":
						unexpected.Add(1)
						firstUnexpected.CompareAndSwap(nil, "oversized message accepted: "+mid)
						acc.Write(mid)
						c.accepted.Add(1)
					case o.accepted():
						acc.Write(mid)
						c.accepted.Add(1)
					case !o.temporary() && kind == "oversized" && o.code == 552:
						c.refused.Add(1)
					case !o.temporary():
						unexpected.Add(1)
						firstUnexpected.CompareAndSwap(nil, fmt.Sprintf("%s %s refused: %v", kind, mid, o.err))
						c.refused.Add(1)
					default:
						c.tempfail.Add(1)
						if attempt < 20 {
							time.Sleep(100 * time.Millisecond)
							continue
						}
						unexpected.Add(1)
						firstUnexpected.CompareAndSwap(nil, fmt.Sprintf("%s %s: temporary failures, gave up: %v", kind, mid, o.err))
					}
					break
				}
			}
		}(w)
	}
	wg.Wait()
	out := map[string]any{"unexpected": unexpected.Load()}
	if v := firstUnexpected.Load(); v != nil {
		out["first_unexpected"] = v
	}
	for _, k := range kinds {
		c := stats[k]
		out[k] = map[string]int64{"sent": c.sent.Load(), "accepted": c.accepted.Load(), "refused": c.refused.Load(), "temp_fail": c.tempfail.Load()}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func pick(rng *rand.Rand, kinds []string, weights []int) string {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := rng.IntN(total)
	for i, w := range weights {
		if n < w {
			return kinds[i]
		}
		n -= w
	}
	return kinds[0]
}

// ack is one acknowledgement the sink received.
type ack struct{ messageID, customer, replyTo, subject string }

// ackPool follows the sink's log.
type ackPool struct {
	path string
	mu   sync.Mutex
	acks []ack
}

func (p *ackPool) follow() {
	var f *os.File
	for f == nil {
		f, _ = os.Open(p.path)
		time.Sleep(200 * time.Millisecond)
	}
	r := bufio.NewReader(f)
	var partial string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			partial += line
			time.Sleep(200 * time.Millisecond)
			continue
		}
		line, partial = partial+line, ""
		fields := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(fields) < 4 || fields[2] == "" {
			continue
		}
		p.mu.Lock()
		p.acks = append(p.acks, ack{messageID: fields[0], customer: fields[1], replyTo: fields[2], subject: fields[3]})
		p.mu.Unlock()
	}
}

func (p *ackPool) random(rng *rand.Rand) (ack, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.acks) == 0 {
		return ack{}, false
	}
	return p.acks[rng.IntN(len(p.acks))], true
}

// soakMessage builds one message of the kind; ok is false when it cannot be built yet
// (a reply before any acknowledgement arrived).
func soakMessage(rng *rand.Rand, kind, mid string, tmpls []template, acks *ackPool, maxBytes int) (envelope, bool) {
	date := time.Now().UTC().Format(time.RFC1123Z)
	h := func(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n") + "\r\n") }
	cust := fmt.Sprintf("customer%d@example.org", rng.IntN(len(tmpls)))
	switch kind {
	case "reply":
		a, ok := acks.random(rng)
		if !ok {
			return envelope{}, false
		}
		body := "Thanks, here is more detail.\r\n\r\n> " + a.subject + "\r\n"
		return envelope{mailFrom: a.customer, rcpt: []string{a.replyTo}, body: dotStuff(h(
			"Message-ID: <"+mid+">", "From: <"+a.customer+">", "To: <"+a.replyTo+">",
			"Subject: Re: "+a.subject, "Date: "+date, "In-Reply-To: <"+a.messageID+">",
			"References: <"+a.messageID+">", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", body))}, true
	case "auto":
		return envelope{mailFrom: cust, rcpt: []string{"support@example.com"}, body: dotStuff(h(
			"Message-ID: <"+mid+">", "From: <"+cust+">", "To: <support@example.com>",
			"Subject: Automatic reply: Out of office", "Date: "+date, "Auto-Submitted: auto-replied",
			"Content-Type: text/plain", "", "I am away until Monday."))}, true
	case "bounce":
		b := "=_dsn_" + mid
		return envelope{mailFrom: "", rcpt: []string{"support@example.com"}, body: dotStuff(h(
			"Message-ID: <"+mid+">", "From: Mail Delivery System <MAILER-DAEMON@example.org>", "To: <support@example.com>",
			"Subject: Undelivered Mail Returned to Sender", "Date: "+date, "MIME-Version: 1.0",
			"Content-Type: multipart/report; report-type=delivery-status; boundary=\""+b+"\"", "",
			"--"+b, "Content-Type: text/plain", "", "Your message could not be delivered.", "",
			"--"+b, "Content-Type: message/delivery-status", "", "Reporting-MTA: dns; mx.example.org", "",
			"Final-Recipient: rfc822; gone@example.org", "Action: failed", "Status: 5.1.1", "",
			"--"+b+"--"))}, true
	case "malformed":
		variants := []string{
			// multipart with no closing boundary and a part with broken base64
			"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"xx\"\r\n\r\n--xx\r\nContent-Type: text/plain\r\n\r\nhello\r\n--xx\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@not base64!!!\r\n",
			// multipart without a boundary parameter
			"MIME-Version: 1.0\r\nContent-Type: multipart/alternative\r\n\r\nno boundary here\r\n",
			// undeclared 8-bit, a NUL byte and a bogus charset
			"Content-Type: text/plain; charset=x-unknown-9\r\n\r\ncaf\xe9 \x00 na\xefve\r\n",
			// a header line without a colon in the middle of the header
			"X-Broken header line\r\nContent-Type: text/html\r\n\r\n<p><b>unclosed <i>tags<table><tr><td>x\r\n",
		}
		return envelope{mailFrom: cust, rcpt: []string{"support@example.com"}, body: dotStuff(append(h(
			"Message-ID: <"+mid+">", "From: <"+cust+">", "To: <support@example.com>",
			"Subject: =?utf-8?B?broken", "Date: "+date), []byte(variants[rng.IntN(len(variants))])...))}, true
	case "oversized":
		line := strings.Repeat("x", 998) + "\r\n"
		var b strings.Builder
		b.WriteString("Message-ID: <" + mid + ">\r\nFrom: <" + cust + ">\r\nTo: <support@example.com>\r\nSubject: too big\r\n\r\n")
		for b.Len() < maxBytes+maxBytes/4 {
			b.WriteString(line)
		}
		return envelope{mailFrom: cust, rcpt: []string{"support@example.com"}, body: []byte(b.String())}, true
	}
	t := tmpls[rng.IntN(len(tmpls))]
	return envelope{mailFrom: t.from, rcpt: []string{"support@example.com"},
		head: []byte("Message-ID: <" + mid + ">\r\n"), body: t.data}, true
}
