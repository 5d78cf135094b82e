package portal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mxdesk/mxdesk/ticket"
)

// upload is a multipart form read with its limits: text fields and attachments. The
// attachments are staged in temporary files; close removes them.
type upload struct {
	values map[string]string
	multi  map[string][]string
	files  []ticket.Upload
	staged []*os.File
}

// close removes the staged files; a handler defers it as soon as the form is read.
func (up *upload) close() {
	for _, f := range up.staged {
		f.Close()
		os.Remove(f.Name()) // already gone where stage could unlink it at once
	}
}

// stage copies one attachment into a temporary file, reading at most budget+1 bytes of
// it, and returns how many it read. The file is staged on disk, not streamed straight
// into the database: that would hold a write transaction (on SQLite the only writer's)
// open for as long as the client takes to send, so a slow upload from a phone would
// stall mail ingest; from disk the ticket's transaction stores it at disk speed.
func (up *upload) stage(part io.Reader, budget int64) (*os.File, int64, error) {
	f, err := os.CreateTemp("", "mxdesk-upload-*")
	if err != nil {
		return nil, 0, err
	}
	up.staged = append(up.staged, f)
	// Unlinked at once, the file's space is freed when it is closed, whatever happens
	// to the process.
	os.Remove(f.Name())
	n, err := io.Copy(f, io.LimitReader(part, budget+1))
	if err != nil {
		return nil, n, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, n, err
	}
	return f, n, nil
}

// maxField bounds one text field of a form with attachments (a description can be long;
// the subject and the rest have their own, smaller limits).
const maxField = 512 << 10

// readUpload reads a form with attachments part by part: at most maxFiles files and
// MaxUpload bytes of them in all (the mail size limit), each field at most maxField. It
// stops at the first part over a limit, so 500 files or a huge upload cost no more than
// the limit. Attachments go to temporary files as they arrive (stage), never whole
// into memory. false means a page saying what was wrong was written (and nothing is
// left staged); otherwise the caller must close the upload.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request, l string) (_ *upload, ok bool) {
	t := accountTexts[l]
	up := &upload{values: map[string]string{}, multi: map[string][]string{}}
	defer func() {
		if !ok {
			up.close()
		}
	}()
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		// A form without files (no JavaScript, no file chosen, some clients).
		if !s.parseForm(w, r, l) {
			return nil, false
		}
		for k, v := range r.PostForm {
			up.values[k] = v[0]
			up.multi[k] = v
		}
		return up, true
	}
	mr, err := r.MultipartReader()
	if err != nil {
		s.message(w, http.StatusBadRequest, l, t["bad_form_title"], t["bad_form"])
		return nil, false
	}
	budget := s.tk.MaxUpload
	tooLarge := func() (*upload, bool) {
		s.message(w, http.StatusRequestEntityTooLarge, l, t["too_large_title"], fmt.Sprintf(t["files_too_large"], humanSize(s.tk.MaxUpload)))
		return nil, false
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return tooLarge()
		}
		if err != nil {
			s.message(w, http.StatusBadRequest, l, t["bad_form_title"], t["bad_form"])
			return nil, false
		}
		name := part.FormName()
		if part.FileName() == "" && name != "attachments" {
			b, err := io.ReadAll(io.LimitReader(part, maxField+1))
			if errors.As(err, &tooBig) || len(b) > maxField {
				s.message(w, http.StatusRequestEntityTooLarge, l, t["too_large_title"], fmt.Sprintf(t["body_long"], maxBody))
				return nil, false
			}
			if err != nil {
				s.message(w, http.StatusBadRequest, l, t["bad_form_title"], t["bad_form"])
				return nil, false
			}
			v := strings.ToValidUTF8(string(b), "\uFFFD")
			up.multi[name] = append(up.multi[name], v)
			if _, ok := up.values[name]; !ok {
				up.values[name] = v
			}
			continue
		}
		if name != "attachments" {
			continue
		}
		if len(up.files) == maxFiles {
			// Unless it is the empty file input of a form sent without a file.
			if n, err := part.Read(make([]byte, 1)); n > 0 || part.FileName() != "" || !errors.Is(err, io.EOF) {
				s.message(w, http.StatusBadRequest, l, t["bad_form_title"], fmt.Sprintf(t["too_many_files"], maxFiles))
				return nil, false
			}
			continue
		}
		f, n, err := up.stage(part, budget)
		if errors.As(err, &tooBig) || n > budget {
			return tooLarge()
		}
		var perr *fs.PathError
		if errors.As(err, &perr) {
			s.fail(w, l, err) // the disk, not the form
			return nil, false
		}
		if err != nil {
			s.message(w, http.StatusBadRequest, l, t["bad_form_title"], t["bad_form"])
			return nil, false
		}
		if part.FileName() == "" && n == 0 {
			// The empty file input of a form sent without a file: not counted, so its
			// temporary file goes at once (a form of many such parts holds no more).
			up.staged = up.staged[:len(up.staged)-1]
			f.Close()
			os.Remove(f.Name())
			continue
		}
		budget -= n
		ctype := part.Header.Get("Content-Type")
		if _, _, err := mime.ParseMediaType(ctype); err != nil || ctype == "" {
			ctype = "application/octet-stream"
		}
		up.files = append(up.files, ticket.Upload{Filename: cleanFilename(part.FileName()), ContentType: ctype, Body: f, Size: n})
	}
	return up, true
}

// cleanFilename keeps a file name safe to store, show and send: the last path element
// (no "../"), no control or bidi-override characters (which make "gpj.exe" read as
// "exe.jpg"), no leading dots, at most 200 bytes.
func cleanFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '/' || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" {
		name = "attachment"
	}
	return name
}
