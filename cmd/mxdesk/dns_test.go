package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/config"
)

// TestDNSPrintsTheKeyOpendkimGenkeyWouldPublish: the DKIM record `mxdesk dns` prints for
// a key made by opendkim-genkey is the one opendkim-genkey itself writes next to it.
func TestDNSPrintsTheKeyOpendkimGenkeyWouldPublish(t *testing.T) {
	genkey := needPeer(t, "opendkim-genkey")
	dir := t.TempDir()
	if out, err := exec.Command(genkey, "-b", "2048", "-d", "example.com", "-s", "mx1", "-D", dir).CombinedOutput(); err != nil {
		t.Fatalf("opendkim-genkey: %v %s", err, out)
	}
	zone, err := os.ReadFile(filepath.Join(dir, "mx1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join(regexp.MustCompile(`"([^"]*)"`).FindAllString(string(zone), -1), "")
	want = strings.ReplaceAll(want, `"`, "")
	want = want[strings.Index(want, "p="):]

	cfg, err := config.Load("", []string{"MXDESK_DOMAIN=example.com", "MXDESK_OUTBOUND_DKIM_SELECTOR=mx1",
		"MXDESK_OUTBOUND_DKIM_KEY=" + filepath.Join(dir, "mx1.private"), "MXDESK_OUTBOUND_RELAY=203.0.113.7:25"})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := dnsRecords(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]dnsRecord{}
	for _, r := range recs {
		got[r.Name+" "+r.Type] = r
	}
	dk := got["mx1._domainkey.example.com. TXT"]
	if !strings.HasSuffix(dk.Value, want) || !strings.HasPrefix(dk.Value, "v=DKIM1; k=rsa;") {
		t.Errorf("DKIM record %q, opendkim-genkey says %q", dk.Value, want)
	}
	for _, part := range regexp.MustCompile(`"[^"]*"`).FindAllString(zoneValue(dk), -1) {
		if len(part)-2 > 255 {
			t.Errorf("zone string of %d octets", len(part)-2)
		}
	}
	if v := got["example.com. TXT"].Value; v != "v=spf1 mx ip4:203.0.113.7 -all" {
		t.Errorf("SPF %q", v)
	}
	if v := got["example.com. MX"].Value; v != "10 example.com." {
		t.Errorf("MX %q", v)
	}
	if v := got["_dmarc.example.com. TXT"].Value; !strings.HasPrefix(v, "v=DMARC1; p=") {
		t.Errorf("DMARC %q", v)
	}
}
