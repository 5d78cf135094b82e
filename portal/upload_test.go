package portal_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// pattern is a reader of n bytes that are not all alike (so nothing compresses them
// away) and cost no memory: the test's own side must not hold the file either.
type pattern struct{ n, off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(b)), p.n-p.off))
	for i := range b[:k] {
		x := p.off + int64(i)
		b[i] = byte(x*31 ^ x>>13)
	}
	p.off += int64(k)
	return k, nil
}

// streamForm posts fields and one file of size bytes (from pattern) as a multipart
// form written while it is sent, and returns the response and the file's SHA-256.
func (b *browser) streamForm(path string, fields [][2]string, name string, size int64) (response, string) {
	b.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	h := sha256.New()
	go func() {
		for _, f := range fields {
			mw.WriteField(f[0], f[1])
		}
		hd := textproto.MIMEHeader{}
		hd.Set("Content-Disposition", fmt.Sprintf(`form-data; name="attachments"; filename="%s"`, name))
		hd.Set("Content-Type", "application/octet-stream")
		w, _ := mw.CreatePart(hd)
		if _, err := io.Copy(io.MultiWriter(w, h), &pattern{n: size}); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(mw.Close())
	}()
	req, _ := http.NewRequest("POST", b.url(path), pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r := b.do(req)
	pr.Close()
	return r, hex.EncodeToString(h.Sum(nil))
}

// heapGrowth runs fn and returns by how much the heap in use grew at its peak over
// what it was before, sampled every millisecond. The collector runs at GOGC=10 meanwhile,
// so garbage waiting for it does not hide, nor pass for, what is held.
func heapGrowth(fn func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	return peak - base
}

// TestLargeUploadsStreamIntoBlobs sends a file many times the size of a chunk with a
// new ticket and with a reply, and checks that the process's heap never grew by
// anything near the file's size while the portal received and stored it, nor while it
// sent it back, and that the bytes came back exact.
func TestLargeUploadsStreamIntoBlobs(t *testing.T) {
	const size = 24 << 20
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{maxUpload: 32 << 20})
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		id, _, _ := f.mailTicket(t, "alice@example.org", "Printer", "It burns.")
		for _, tc := range []struct {
			name   string
			path   string
			fields [][2]string
		}{
			{"new ticket", "/my-tickets/new", [][2]string{{"subject", "A big log"}, {"description", "Attached."}}},
			{"reply", fmt.Sprintf("/my-tickets/%d/reply", id), [][2]string{{"body", "Another big log."}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				name := strings.ReplaceAll(tc.name, " ", "-") + ".bin"
				var r response
				var sum string
				grew := heapGrowth(func() { r, sum = b.streamForm(tc.path, tc.fields, name, size) })
				t.Logf("upload of %d MiB: heap grew by %.1f MiB at most", size>>20, float64(grew)/(1<<20))
				if r.Code != 200 || !strings.Contains(r.Body, name) {
					t.Fatalf("upload: %d at %s\n%s", r.Code, r.URL, r.Body)
				}
				if grew > size/2 {
					t.Errorf("heap grew by %d bytes for a file of %d", grew, size)
				}
				if n := f.count(t, `SELECT COUNT(*) FROM attachments WHERE sha256 = ? AND size = ? AND filename = ?`, sum, size, name); n != 1 {
					t.Errorf("%d attachment rows for it", n)
				}
				if n := f.count(t, `SELECT COUNT(*) FROM blob_chunks WHERE sha256 = ?`, sum); n != size>>20 {
					t.Errorf("%d chunks, want %d", n, size>>20)
				}
				link := regexp.MustCompile(`href="(/my-tickets/\d+/attachments/\d+)">` + regexp.QuoteMeta(name)).FindStringSubmatch(r.Body)
				if link == nil {
					t.Fatalf("no link to %s", name)
				}
				var got string
				grew = heapGrowth(func() {
					resp, err := b.c.Get(b.url(link[1]))
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					h := sha256.New()
					io.Copy(h, resp.Body)
					got = hex.EncodeToString(h.Sum(nil))
				})
				t.Logf("download: heap grew by %.1f MiB at most", float64(grew)/(1<<20))
				if got != sum {
					t.Errorf("downloaded %s, sent %s", got, sum)
				}
				if grew > size/2 {
					t.Errorf("download: heap grew by %d bytes for a file of %d", grew, size)
				}
			})
		}
		if n := f.count(t, `SELECT COUNT(*) FROM blobs WHERE sha256 LIKE 'tmp-%'`); n != 0 {
			t.Errorf("%d temporary blobs left", n)
		}
	})
}

// TestUploadOverTheLimitStoresNothing: a file over the limit, sent whole or after a
// first file that fit, gets the page that says the limit, and no ticket, message or blob
// is stored.
func TestUploadOverTheLimitStoresNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{maxUpload: 3 << 20})
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		id, _, _ := f.mailTicket(t, "alice@example.org", "Printer", "It burns.")
		blobs := f.count(t, `SELECT COUNT(*) FROM blobs`)
		messages := f.count(t, `SELECT COUNT(*) FROM messages`)
		ok := [][2]string{{"subject", "A subject"}, {"description", "Words."}, {"body", "Words."}}
		for _, tc := range []struct {
			name, path string
			files      []upFile
		}{
			{"new ticket, one file over", "/my-tickets/new", []upFile{{"big.bin", "application/octet-stream", make([]byte, 3<<20+1)}}},
			{"new ticket, the second file over", "/my-tickets/new", []upFile{{"a.bin", "application/octet-stream", make([]byte, 2<<20)},
				{"b.bin", "application/octet-stream", make([]byte, 1<<20+1)}}},
			{"reply, one file over", fmt.Sprintf("/my-tickets/%d/reply", id), []upFile{{"big.bin", "application/octet-stream", make([]byte, 5<<20)}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := b.postMultipart(tc.path, ok, tc.files)
				if r.Code != http.StatusRequestEntityTooLarge || !strings.Contains(r.Body, "larger than 3.0 MB in all") {
					t.Errorf("%d\n%s", r.Code, r.Body)
				}
			})
		}
		// Streamed, so the form is cut off midway rather than sent whole first.
		if r, _ := b.streamForm("/my-tickets/new", ok, "huge.bin", 64<<20); r.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("streamed 64 MiB: %d", r.Code)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM tickets`); n != 1 {
			t.Errorf("%d tickets", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM blobs`); n != blobs {
			t.Errorf("%d blobs, %d before", n, blobs)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM messages`); n != messages {
			t.Errorf("%d messages, %d before", n, messages)
		}
	})
}

// TestEmptyFileInputsAreNotFiles: the empty file input a browser sends when no file was
// chosen is not an attachment and not counted against the 20 files, however many there
// are; the ticket is opened without attachments.
func TestEmptyFileInputsAreNotFiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		empty := make([]upFile, 2000)
		for i := range empty {
			empty[i] = upFile{"", "application/octet-stream", nil}
		}
		r := b.postMultipart("/my-tickets/new", [][2]string{{"subject", "No files"}, {"description", "Words."}}, empty)
		if r.Code != 200 || !strings.Contains(r.Body, "is open.") {
			t.Fatalf("%d at %s\n%s", r.Code, r.URL, r.Body)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM attachments`); n != 0 {
			t.Errorf("%d attachments", n)
		}
	})
}
