-- The knowledge base: articles imported from Markdown files (rendered once, at import),
-- their images, tags and visitors' votes, and the full-text index search reads.
-- The kb_articles table of 0001 was never written to; it is replaced.
DROP TABLE kb_articles;

CREATE TABLE kb_articles (
    id           BIGSERIAL PRIMARY KEY,
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
    views        BIGINT NOT NULL DEFAULT 0,
    helpful      BIGINT NOT NULL DEFAULT 0,
    not_helpful  BIGINT NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    -- English articles are stemmed, every other language is not; title weighs most (A),
    -- then summary and tags (B), then the body (D).
    search       tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector(CASE WHEN lang = 'en' THEN 'english'::regconfig ELSE 'simple'::regconfig END, title), 'A') ||
        setweight(to_tsvector(CASE WHEN lang = 'en' THEN 'english'::regconfig ELSE 'simple'::regconfig END, summary || ' ' || tags), 'B') ||
        setweight(to_tsvector(CASE WHEN lang = 'en' THEN 'english'::regconfig ELSE 'simple'::regconfig END, body_text), 'D')
    ) STORED
);
CREATE INDEX kb_articles_status ON kb_articles (status, category);
-- Only published articles are searched: drafts and archived ones cost nothing.
CREATE INDEX kb_articles_search ON kb_articles USING GIN (search) WHERE status = 'published';

CREATE TABLE kb_tags (
    article_id BIGINT NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (article_id, tag)
);
CREATE INDEX kb_tags_tag ON kb_tags (tag);

CREATE TABLE kb_images (
    article_id   BIGINT NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,              -- path relative to the article's file
    sha256       TEXT NOT NULL REFERENCES blobs(sha256),
    content_type TEXT NOT NULL,
    PRIMARY KEY (article_id, name)
);

-- One vote per visitor (a hash of the visitor cookie) per article; a changed mind
-- replaces the row.
CREATE TABLE kb_votes (
    article_id BIGINT NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    voter      TEXT NOT NULL,
    helpful    BOOLEAN NOT NULL,
    voted_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (article_id, voter)
);
