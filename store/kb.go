package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// KBPublished is the status of an article the portal shows and search finds; the kb
// package owns the others (draft, archived).
const (
	KBPublished = "published"
	KBArchived  = "archived"
)

// KBArticle is one knowledge-base article as stored: rendered once, at import.
type KBArticle struct {
	ID         int64     `db:"id"`
	Slug       string    `db:"slug"`
	Lang       string    `db:"lang"`
	Title      string    `db:"title"`
	Summary    string    `db:"summary"`
	Category   string    `db:"category"`
	Tags       string    `db:"tags"` // space-separated
	Status     string    `db:"status"`
	BodyMD     string    `db:"body_md"`
	BodyHTML   string    `db:"body_html"`
	BodyText   string    `db:"body_text"`
	Source     string    `db:"source"`
	SourceHash string    `db:"source_hash"`
	Views      int64     `db:"views"`
	Helpful    int64     `db:"helpful"`
	NotHelpful int64     `db:"not_helpful"`
	CreatedAt  time.Time `db:"created_at"`
	UpdatedAt  time.Time `db:"updated_at"`
}

// TagList returns the article's tags.
func (a *KBArticle) TagList() []string { return strings.Fields(a.Tags) }

// kbListColumns are the columns of a list entry: everything but the bodies.
const kbListColumns = `id, slug, lang, title, summary, category, tags, status, source, source_hash,
	views, helpful, not_helpful, created_at, updated_at`

// KBImageFile is an image an article shows, stored as a blob.
type KBImageFile struct {
	Name        string
	ContentType string
	Data        []byte
}

// KBSources lists every article's identity and import hash, drafts and archived ones
// included: what an import compares the files against.
func KBSources(ctx context.Context, q sqlx.QueryerContext) ([]KBArticle, error) {
	var out []KBArticle
	if err := sqlx.SelectContext(ctx, q, &out, "SELECT "+kbListColumns+" FROM kb_articles ORDER BY slug"); err != nil {
		return nil, fmt.Errorf("kb sources: %w", err)
	}
	return out, nil
}

// PutKBArticle writes a, its tags and its images: a new article when a.ID is 0 (it then
// sets a.ID), else it replaces the article with that id, keeping its views and votes.
// The importer knows which, so a first import of thousands of articles costs two
// statements each.
func PutKBArticle(ctx context.Context, tx *sqlx.Tx, a *KBArticle, images []KBImageFile) error {
	t := now()
	a.UpdatedAt = t
	var err error
	if a.ID == 0 {
		a.CreatedAt = t
		a.ID, err = insertID(ctx, tx, tx.Rebind(`INSERT INTO kb_articles (slug, lang, title, summary, category, tags,
			status, body_md, body_html, body_text, source, source_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			a.Slug, a.Lang, a.Title, a.Summary, a.Category, a.Tags, a.Status, a.BodyMD, a.BodyHTML, a.BodyText,
			a.Source, a.SourceHash, t, t)
	} else {
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE kb_articles SET lang = ?, title = ?, summary = ?, category = ?,
			tags = ?, status = ?, body_md = ?, body_html = ?, body_text = ?, source = ?, source_hash = ?, updated_at = ?
			WHERE id = ?`),
			a.Lang, a.Title, a.Summary, a.Category, a.Tags, a.Status, a.BodyMD, a.BodyHTML, a.BodyText,
			a.Source, a.SourceHash, t, a.ID)
		for _, table := range []string{"kb_tags", "kb_images"} {
			if err == nil {
				_, err = tx.ExecContext(ctx, tx.Rebind("DELETE FROM "+table+" WHERE article_id = ?"), a.ID)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("put kb article %s: %w", a.Slug, err)
	}
	if tags := a.TagList(); len(tags) > 0 {
		query := "INSERT INTO kb_tags (article_id, tag) VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?), ", len(tags)), ", ") +
			" ON CONFLICT DO NOTHING"
		args := make([]any, 0, 2*len(tags))
		for _, tag := range tags {
			args = append(args, a.ID, tag)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(query), args...); err != nil {
			return fmt.Errorf("put kb article %s: tags: %w", a.Slug, err)
		}
	}
	for _, img := range images {
		sum, err := PutBlob(ctx, tx, img.Data)
		if err != nil {
			return fmt.Errorf("put kb article %s: image %s: %w", a.Slug, img.Name, err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO kb_images (article_id, name, sha256, content_type) VALUES (?, ?, ?, ?)"),
			a.ID, img.Name, sum, img.ContentType); err != nil {
			return fmt.Errorf("put kb article %s: image %s: %w", a.Slug, img.Name, err)
		}
	}
	return nil
}

// SetKBStatus sets the status of the articles with the given ids.
func SetKBStatus(ctx context.Context, q sqlx.ExtContext, status string, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	query, args, err := sqlx.In("UPDATE kb_articles SET status = ?, updated_at = ? WHERE id IN (?)", status, now(), ids)
	if err == nil {
		_, err = q.ExecContext(ctx, q.Rebind(query), args...)
	}
	if err != nil {
		return fmt.Errorf("set kb status: %w", err)
	}
	return nil
}

// DeleteKBArticles deletes articles with their tags, images and votes (the image blobs
// stay: blobs are shared and content-addressed).
func DeleteKBArticles(ctx context.Context, q sqlx.ExtContext, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	for _, table := range []string{"kb_tags", "kb_images", "kb_votes"} {
		query, args, err := sqlx.In("DELETE FROM "+table+" WHERE article_id IN (?)", ids)
		if err == nil {
			_, err = q.ExecContext(ctx, q.Rebind(query), args...)
		}
		if err != nil {
			return fmt.Errorf("delete kb articles: %s: %w", table, err)
		}
	}
	query, args, err := sqlx.In("DELETE FROM kb_articles WHERE id IN (?)", ids)
	if err == nil {
		_, err = q.ExecContext(ctx, q.Rebind(query), args...)
	}
	if err != nil {
		return fmt.Errorf("delete kb articles: %w", err)
	}
	return nil
}

// KBArticleBySlug returns the article with the slug, whatever its status.
func KBArticleBySlug(ctx context.Context, q sqlx.QueryerContext, slug string) (*KBArticle, error) {
	var a KBArticle
	if err := sqlx.GetContext(ctx, q, &a, rebind(q, "SELECT "+kbListColumns+", body_md, body_html, body_text FROM kb_articles WHERE slug = ?"), slug); err != nil {
		return nil, fmt.Errorf("kb article %q: %w", slug, notFound(err))
	}
	return &a, nil
}

// KBOrder is how ListKB sorts.
type KBOrder int

const (
	KBByTitle   KBOrder = iota
	KBByViews           // most viewed first
	KBByUpdated         // most recently updated first
)

// KBFilter selects articles for ListKB. Zero values select everything.
type KBFilter struct {
	Status   string
	Category string
	Order    KBOrder
	Limit    int
}

// ListKB lists articles without their bodies.
func ListKB(ctx context.Context, q sqlx.QueryerContext, f KBFilter) ([]KBArticle, error) {
	query := "SELECT " + kbListColumns + " FROM kb_articles WHERE 1 = 1"
	var args []any
	if f.Status != "" {
		query += " AND status = ?"
		args = append(args, f.Status)
	}
	if f.Category != "" {
		query += " AND category = ?"
		args = append(args, f.Category)
	}
	switch f.Order {
	case KBByViews:
		query += " ORDER BY views DESC, title, id"
	case KBByUpdated:
		query += " ORDER BY updated_at DESC, id DESC"
	default:
		query += " ORDER BY title, id"
	}
	if f.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	var out []KBArticle
	if err := sqlx.SelectContext(ctx, q, &out, rebind(q, query), args...); err != nil {
		return nil, fmt.Errorf("list kb: %w", err)
	}
	return out, nil
}

// KBCategory is a category with its number of published articles.
type KBCategory struct {
	Name  string `db:"category"`
	Count int    `db:"n"`
}

// KBCategories lists the categories of published articles.
func KBCategories(ctx context.Context, q sqlx.QueryerContext) ([]KBCategory, error) {
	var out []KBCategory
	err := sqlx.SelectContext(ctx, q, &out, rebind(q,
		"SELECT category, COUNT(*) AS n FROM kb_articles WHERE status = ? GROUP BY category ORDER BY category"), KBPublished)
	if err != nil {
		return nil, fmt.Errorf("kb categories: %w", err)
	}
	return out, nil
}

// KBRelated returns up to limit published articles that share a's category or tags, the
// most shared first.
func KBRelated(ctx context.Context, q sqlx.QueryerContext, a *KBArticle, limit int) ([]KBArticle, error) {
	var out []KBArticle
	err := sqlx.SelectContext(ctx, q, &out, rebind(q, `SELECT `+kbListColumns+` FROM (
		SELECT k.*, (CASE WHEN k.category = ? AND k.category <> '' THEN 1 ELSE 0 END) +
			(SELECT COUNT(*) FROM kb_tags t JOIN kb_tags mine ON mine.tag = t.tag AND mine.article_id = ?
			 WHERE t.article_id = k.id) AS shared
		FROM kb_articles k WHERE k.status = ? AND k.id <> ?) r
		WHERE shared > 0 ORDER BY shared DESC, views DESC, title LIMIT ?`),
		a.Category, a.ID, KBPublished, a.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("kb related %s: %w", a.Slug, err)
	}
	return out, nil
}

// AddKBView counts one view of an article.
func AddKBView(ctx context.Context, q sqlx.ExecerContext, id int64) error {
	if _, err := q.ExecContext(ctx, rebind(q, "UPDATE kb_articles SET views = views + 1 WHERE id = ?"), id); err != nil {
		return fmt.Errorf("kb view %d: %w", id, err)
	}
	return nil
}

// KBImage returns the blob and content type of an image of the article with slug.
func KBImage(ctx context.Context, q sqlx.QueryerContext, slug, name string) (sha256, contentType string, err error) {
	var row struct {
		SHA256      string `db:"sha256"`
		ContentType string `db:"content_type"`
	}
	err = sqlx.GetContext(ctx, q, &row, rebind(q, `SELECT i.sha256, i.content_type FROM kb_images i
		JOIN kb_articles a ON a.id = i.article_id WHERE a.slug = ? AND i.name = ? AND a.status <> ?`), slug, name, KBArchived)
	if err != nil {
		return "", "", fmt.Errorf("kb image %s/%s: %w", slug, name, notFound(err))
	}
	return row.SHA256, row.ContentType, nil
}

// VoteKB records voter's vote on a published article (a changed mind replaces the earlier
// vote) and returns the article's new counts. An article that is not published is
// ErrNotFound.
func (s *Store) VoteKB(ctx context.Context, articleID int64, voter string, helpful bool) (yes, no int64, err error) {
	err = s.Tx(ctx, func(tx *sqlx.Tx) error {
		var status string
		if err := tx.GetContext(ctx, &status, tx.Rebind("SELECT status FROM kb_articles WHERE id = ?"), articleID); err != nil {
			return notFound(err)
		}
		if status != KBPublished {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO kb_votes (article_id, voter, helpful, voted_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (article_id, voter) DO UPDATE SET helpful = excluded.helpful, voted_at = excluded.voted_at`),
			articleID, voter, helpful, now()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE kb_articles SET
			helpful = (SELECT COUNT(*) FROM kb_votes WHERE article_id = ? AND helpful = ?),
			not_helpful = (SELECT COUNT(*) FROM kb_votes WHERE article_id = ? AND helpful = ?) WHERE id = ?`),
			articleID, true, articleID, false, articleID); err != nil {
			return err
		}
		return tx.QueryRowxContext(ctx, tx.Rebind("SELECT helpful, not_helpful FROM kb_articles WHERE id = ?"), articleID).Scan(&yes, &no)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("kb vote on %d: %w", articleID, err)
	}
	return yes, no, nil
}

// KBVoteOf returns voter's vote on an article: nil when they have not voted.
func KBVoteOf(ctx context.Context, q sqlx.QueryerContext, articleID int64, voter string) (*bool, error) {
	var helpful bool
	err := sqlx.GetContext(ctx, q, &helpful, rebind(q, "SELECT helpful FROM kb_votes WHERE article_id = ? AND voter = ?"), articleID, voter)
	if err != nil {
		if notFound(err) == ErrNotFound {
			return nil, nil
		}
		return nil, fmt.Errorf("kb vote of %d: %w", articleID, err)
	}
	return &helpful, nil
}

// kbGINIndexes are PostgreSQL's full-text indexes of kb_articles (migration 0016): one per
// configuration, as a search asks, of the whole article and of its title, summary and tags.
var kbGINIndexes = []string{"kb_articles_search_en", "kb_articles_search_other", "kb_articles_head_en", "kb_articles_head_other"}

// OptimizeKB tidies the search index after an import that changed articles. On SQLite
// it merges the FTS5 indexes' segments into one: a search then seeks each word once
// instead of once per segment (measured on 10,000 articles: a third less CPU per
// search). On PostgreSQL it moves the GIN index's pending entries into the index proper
// (a bulk import leaves them in a list every search would read through: 6 ms per search
// for 10,000 articles), counts anew the articles holding each word (kb_words, which a
// search reads to choose its rarest words) and refreshes the planner's statistics.
func (s *Store) OptimizeKB(ctx context.Context) error {
	if s.Dialect == SQLite {
		for _, q := range []string{
			"INSERT INTO kb_fts_en (kb_fts_en) VALUES ('optimize')",
			"INSERT INTO kb_fts_other (kb_fts_other) VALUES ('optimize')",
			"INSERT INTO kb_head_en (kb_head_en) VALUES ('optimize')",
			"INSERT INTO kb_head_other (kb_head_other) VALUES ('optimize')",
		} {
			if _, err := s.DB.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("optimize kb: %w", err)
			}
		}
		return nil
	}
	for _, index := range kbGINIndexes {
		if _, err := s.DB.ExecContext(ctx, "SELECT gin_clean_pending_list('"+index+"'::regclass)"); err != nil {
			return fmt.Errorf("optimize kb: %s: %w", index, err)
		}
	}
	// ts_stat takes its query as text; the status is a literal inside it.
	pub := strings.ReplaceAll(sqlList(KBPublished), "'", "''")
	err := s.Tx(ctx, func(tx *sqlx.Tx) error {
		for _, q := range []string{
			`DELETE FROM kb_words`,
			`INSERT INTO kb_words (cfg, word, ndoc) SELECT 'english', word, ndoc
				FROM ts_stat('SELECT search FROM kb_articles WHERE status = ` + pub + ` AND lang = ''en''')`,
			`INSERT INTO kb_words (cfg, word, ndoc) SELECT 'simple', word, ndoc
				FROM ts_stat('SELECT search FROM kb_articles WHERE status = ` + pub + ` AND lang <> ''en''')`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("optimize kb: words: %w", err)
	}
	for _, q := range []string{"ANALYZE kb_articles", "ANALYZE kb_words"} {
		if _, err := s.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("optimize kb: %w", err)
		}
	}
	return nil
}

// AnyKBPublished reports whether any article is published: a new ticket's
// acknowledgement asks it before searching, so a helpdesk without a knowledge base pays
// one indexed read per ticket for it, not a search.
func AnyKBPublished(ctx context.Context, db sqlx.QueryerContext) (bool, error) {
	b := batchOf(ctx)
	if b != nil && b.kb != nil {
		return *b.kb, nil
	}
	var n int
	if err := sqlx.GetContext(ctx, db, &n, rebind(db, `SELECT COUNT(*) FROM (SELECT 1 FROM kb_articles WHERE status = ? LIMIT 1) AS one`), KBPublished); err != nil {
		return false, fmt.Errorf("kb: any published: %w", err)
	}
	if b != nil {
		b.kb = new(n > 0)
	}
	return n > 0, nil
}
