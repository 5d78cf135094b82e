-- The knowledge base: articles imported from Markdown files (rendered once, at import),
-- their images, tags and visitors' votes, and the full-text index search reads.
-- The kb_articles table of 0001 was never written to; it is replaced.
DROP TABLE kb_articles;

CREATE TABLE kb_articles (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    slug         TEXT NOT NULL UNIQUE,
    lang         TEXT NOT NULL,
    title        TEXT NOT NULL,
    summary      TEXT NOT NULL DEFAULT '',
    category     TEXT NOT NULL DEFAULT '',
    tags         TEXT NOT NULL DEFAULT '',   -- space-separated, for the index; kb_tags for joins
    status       TEXT NOT NULL,              -- draft, published, archived
    body_md      TEXT NOT NULL,
    body_html    TEXT NOT NULL,              -- rendered and sanitized at import
    body_text    TEXT NOT NULL,              -- the words of body_html, for the index
    source       TEXT NOT NULL DEFAULT '',   -- the file it came from, relative to the import dir
    source_hash  TEXT NOT NULL DEFAULT '',   -- SHA-256 of the file, its images and the renderer
    views        INTEGER NOT NULL DEFAULT 0,
    helpful      INTEGER NOT NULL DEFAULT 0,
    not_helpful  INTEGER NOT NULL DEFAULT 0,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX kb_articles_status ON kb_articles (status, category);

CREATE TABLE kb_tags (
    article_id INTEGER NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (article_id, tag)
);
CREATE INDEX kb_tags_tag ON kb_tags (tag);

CREATE TABLE kb_images (
    article_id   INTEGER NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,              -- path relative to the article's file
    sha256       TEXT NOT NULL REFERENCES blobs(sha256),
    content_type TEXT NOT NULL,
    PRIMARY KEY (article_id, name)
);

-- One vote per visitor (a hash of the visitor cookie) per article; a changed mind
-- replaces the row.
CREATE TABLE kb_votes (
    article_id INTEGER NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    voter      TEXT NOT NULL,
    helpful    INTEGER NOT NULL,
    voted_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (article_id, voter)
);

-- Two external-content FTS5 indexes over the published articles of kb_articles: English
-- with the Porter stemmer, every other language without stemming. The triggers keep them
-- in step (an article leaves the index when it stops being published, so drafts and
-- archived articles cost searches nothing).
CREATE VIRTUAL TABLE kb_fts_en USING fts5(title, summary, tags, body_text,
    content='kb_articles', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE kb_fts_other USING fts5(title, summary, tags, body_text,
    content='kb_articles', content_rowid='id', tokenize='unicode61 remove_diacritics 2');

CREATE TRIGGER kb_articles_ai AFTER INSERT ON kb_articles WHEN new.status = 'published' BEGIN
    INSERT INTO kb_fts_en (rowid, title, summary, tags, body_text)
        SELECT new.id, new.title, new.summary, new.tags, new.body_text WHERE new.lang = 'en';
    INSERT INTO kb_fts_other (rowid, title, summary, tags, body_text)
        SELECT new.id, new.title, new.summary, new.tags, new.body_text WHERE new.lang <> 'en';
END;
CREATE TRIGGER kb_articles_ad AFTER DELETE ON kb_articles WHEN old.status = 'published' BEGIN
    INSERT INTO kb_fts_en (kb_fts_en, rowid, title, summary, tags, body_text)
        SELECT 'delete', old.id, old.title, old.summary, old.tags, old.body_text WHERE old.lang = 'en';
    INSERT INTO kb_fts_other (kb_fts_other, rowid, title, summary, tags, body_text)
        SELECT 'delete', old.id, old.title, old.summary, old.tags, old.body_text WHERE old.lang <> 'en';
END;
-- Only the indexed columns and the status: a view or a vote must not rewrite the index.
CREATE TRIGGER kb_articles_au AFTER UPDATE OF lang, title, summary, tags, body_text, status ON kb_articles BEGIN
    INSERT INTO kb_fts_en (kb_fts_en, rowid, title, summary, tags, body_text)
        SELECT 'delete', old.id, old.title, old.summary, old.tags, old.body_text
        WHERE old.lang = 'en' AND old.status = 'published';
    INSERT INTO kb_fts_other (kb_fts_other, rowid, title, summary, tags, body_text)
        SELECT 'delete', old.id, old.title, old.summary, old.tags, old.body_text
        WHERE old.lang <> 'en' AND old.status = 'published';
    INSERT INTO kb_fts_en (rowid, title, summary, tags, body_text)
        SELECT new.id, new.title, new.summary, new.tags, new.body_text
        WHERE new.lang = 'en' AND new.status = 'published';
    INSERT INTO kb_fts_other (rowid, title, summary, tags, body_text)
        SELECT new.id, new.title, new.summary, new.tags, new.body_text
        WHERE new.lang <> 'en' AND new.status = 'published';
END;

-- bm25 weights per column (title, summary, tags, body): a word in the title counts ten
-- times one in the body. ORDER BY rank uses them.
INSERT INTO kb_fts_en (kb_fts_en, rank) VALUES ('rank', 'bm25(10.0, 4.0, 4.0, 1.0)');
INSERT INTO kb_fts_other (kb_fts_other, rank) VALUES ('rank', 'bm25(10.0, 4.0, 4.0, 1.0)');
