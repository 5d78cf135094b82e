package portal

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mxdesk/mxdesk/ticket"
)

// upload is a multipart form read with its limits: text fields and attachments.
type upload struct {
	values map[string]string
	multi  map[string][]string
	files  []ticket.File
}

// maxField bounds one text field of a form with attachments (a description can be long;
// the subject and the rest have their own, smaller limits).
const maxField = 512 << 10

// readUpload reads a form with attachments part by part: at most maxFiles files and
// MaxUpload bytes of them in all (the mail size limit), each field at most maxField. It
// stops at the first part over a limit, so 500 files or a huge upload cost no more than
// the limit. false means a page saying what was wrong was written.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request, l string) (*upload, bool) {
	t := accountTexts[l]
	up := &upload{values: map[string]string{}, multi: map[string][]string{}}
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
		data, err := io.ReadAll(io.LimitReader(part, budget+1))
		if errors.As(err, &tooBig) || int64(len(data)) > budget {
			return tooLarge()
		}
		if err != nil {
			s.message(w, http.StatusBadRequest, l, t["bad_form_title"], t["bad_form"])
			return nil, false
		}
		if part.FileName() == "" && len(data) == 0 {
			continue // the empty file input of a form sent without a file
		}
		if len(up.files) == maxFiles {
			s.message(w, http.StatusBadRequest, l, t["bad_form_title"], fmt.Sprintf(t["too_many_files"], maxFiles))
			return nil, false
		}
		budget -= int64(len(data))
		ctype := part.Header.Get("Content-Type")
		if _, _, err := mime.ParseMediaType(ctype); err != nil || ctype == "" {
			ctype = "application/octet-stream"
		}
		up.files = append(up.files, ticket.File{Filename: cleanFilename(part.FileName()), ContentType: ctype, Data: data})
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
