package kb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
)

// MaxImageBytes bounds one image an article shows.
const MaxImageBytes = 5 << 20

// Options steer an import.
type Options struct {
	// DefaultLang is the language of articles whose front matter names none.
	DefaultLang string
	// Prune deletes the articles whose files are gone instead of archiving them.
	Prune bool
	// Progress, when set, is called after each file with the number done and the total.
	Progress func(done, total int)
}

// Result counts what an import did. Skipped holds one *FileError per file that was not
// imported, naming the file and line.
type Result struct {
	Added, Updated, Unchanged, Archived, Deleted int
	Skipped                                      []error
}

func (r Result) String() string {
	s := fmt.Sprintf("%d added, %d updated, %d unchanged, %d archived", r.Added, r.Updated, r.Unchanged, r.Archived)
	if r.Deleted > 0 {
		s += fmt.Sprintf(", %d deleted", r.Deleted)
	}
	if len(r.Skipped) > 0 {
		s += fmt.Sprintf(", %d skipped", len(r.Skipped))
	}
	return s
}

// importBatch is how many articles one transaction writes: an import of thousands does
// not hold SQLite's one writer away from the SMTP spool for long.
const importBatch = 100

// Import brings the knowledge base in line with the Markdown files under dir: every
// *.md file is an article (its slug the file name, or slug: in its front matter). New
// slugs are added, changed files updated, identical ones left alone, so importing twice
// changes nothing. An article whose file is gone is archived (Prune: deleted); one whose
// file failed to parse is left as it was. A bad file is reported in Result.Skipped and
// the rest are imported.
func Import(ctx context.Context, st *store.Store, dir string, opt Options) (Result, error) {
	var res Result
	if opt.DefaultLang == "" {
		opt.DefaultLang = "en"
	}
	files, err := markdownFiles(dir)
	if err != nil {
		return res, err
	}
	existing, err := store.KBSources(ctx, st.DB)
	if err != nil {
		return res, err
	}
	bySlug := map[string]store.KBArticle{}
	for _, a := range existing {
		bySlug[a.Slug] = a
	}
	r := newRenderer()
	seen := map[string]string{} // slug -> file
	failed := map[string]bool{} // files that did not parse: their articles stay
	type write struct {
		a      *store.KBArticle
		images []store.KBImageFile
	}
	var batch []write
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := st.Tx(ctx, func(tx *sqlx.Tx) error {
			for _, w := range batch {
				if err := store.PutKBArticle(ctx, tx, w.a, w.images); err != nil {
					return err
				}
			}
			return nil
		})
		batch = batch[:0]
		return err
	}
	for i, name := range files {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		a, images, err := r.load(dir, name, opt.DefaultLang)
		if err == nil && seen[a.Slug] != "" {
			err = &FileError{File: name, Msg: fmt.Sprintf("slug %q is already used by %s; skipped", a.Slug, seen[a.Slug])}
		}
		if err != nil {
			res.Skipped = append(res.Skipped, err)
			failed[name] = true
		} else {
			seen[a.Slug] = name
			old, ok := bySlug[a.Slug]
			switch {
			case !ok:
				res.Added++
				batch = append(batch, write{a, images})
			case old.SourceHash == a.SourceHash && old.Status == a.Status:
				res.Unchanged++
			default:
				res.Updated++
				a.ID = old.ID
				batch = append(batch, write{a, images})
			}
			if len(batch) >= importBatch {
				if err := flush(); err != nil {
					return res, err
				}
			}
		}
		if opt.Progress != nil {
			opt.Progress(i+1, len(files))
		}
	}
	if err := flush(); err != nil {
		return res, err
	}
	var gone []int64
	for _, a := range existing {
		if seen[a.Slug] != "" || failed[a.Source] {
			continue
		}
		if opt.Prune {
			gone = append(gone, a.ID)
		} else if a.Status != StatusArchived {
			gone = append(gone, a.ID)
		}
	}
	if opt.Prune {
		res.Deleted = len(gone)
		err = store.DeleteKBArticles(ctx, st.DB, gone...)
	} else {
		res.Archived = len(gone)
		err = store.SetKBStatus(ctx, st.DB, StatusArchived, gone...)
	}
	if err == nil && res.Added+res.Updated+res.Archived+res.Deleted > 0 {
		err = st.OptimizeKB(ctx)
	}
	return res, err
}

// markdownFiles lists the *.md files under dir (slash-separated, relative, sorted),
// skipping hidden files and directories.
func markdownFiles(dir string) ([]string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("kb import: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("kb import: %s is not a directory", dir)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".md") {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kb import: %w", err)
	}
	sort.Strings(files)
	return files, nil
}

// load reads, parses and renders one file and reads its images.
func (r *renderer) load(dir, name, defaultLang string) (*store.KBArticle, []store.KBImageFile, error) {
	full := filepath.Join(dir, filepath.FromSlash(name))
	fi, err := os.Stat(full)
	if err != nil {
		return nil, nil, &FileError{File: name, Msg: err.Error()}
	}
	if fi.Size() > MaxFileBytes {
		return nil, nil, &FileError{File: name, Msg: fmt.Sprintf("%.1f MB is over the limit of %d KB for an article; skipped",
			float64(fi.Size())/(1<<20), MaxFileBytes>>10)}
	}
	data, err := os.ReadFile(full)
	if err != nil {
		return nil, nil, &FileError{File: name, Msg: err.Error()}
	}
	fm, body, err := parseFile(name, data, defaultLang)
	if err != nil {
		return nil, nil, err
	}
	out, err := r.render(fm.Slug, body)
	if err != nil {
		return nil, nil, &FileError{File: name, Msg: err.Error()}
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", rendererVersion, fm.Lang, name)
	h.Write(data)
	var images []store.KBImageFile
	for _, img := range out.Images {
		p := filepath.Join(filepath.Dir(full), filepath.FromSlash(img))
		fi, err := os.Lstat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil, &FileError{File: name, Msg: fmt.Sprintf("image %q: no such file beside the article", img)}
			}
			return nil, nil, &FileError{File: name, Msg: fmt.Sprintf("image %q: %v", img, err)}
		}
		if !fi.Mode().IsRegular() {
			return nil, nil, &FileError{File: name, Msg: fmt.Sprintf("image %q is not a regular file", img)}
		}
		if fi.Size() > MaxImageBytes {
			return nil, nil, &FileError{File: name, Msg: fmt.Sprintf("image %q: %d bytes is over the limit of %d", img, fi.Size(), MaxImageBytes)}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, &FileError{File: name, Msg: fmt.Sprintf("image %q: %v", img, err)}
		}
		fmt.Fprintf(h, "\x00%s\x00%d\x00", img, len(b))
		h.Write(b)
		images = append(images, store.KBImageFile{Name: img, ContentType: imageTypes[strings.ToLower(path.Ext(img))], Data: b})
	}
	a := &store.KBArticle{
		Slug: fm.Slug, Lang: fm.Lang, Title: fm.Title, Summary: fm.Summary, Category: fm.Category,
		Tags: strings.Join(fm.Tags, " "), Status: fm.Status, BodyMD: string(body), BodyHTML: out.HTML,
		BodyText: out.Text, Source: name, SourceHash: hex.EncodeToString(h.Sum(nil)),
	}
	return a, images, nil
}
