-- The words of title, summary and tags alone, for a search that wants every word there
-- (when even the rarest word is too common to score every article holding it), as
-- PostgreSQL's search_head (0016). In kb_fts_en a column filter does not narrow what is
-- read: each word's whole doclist, with its positions in the body, is decoded and then
-- filtered by column, and bm25 walks it again to count the articles holding the word.
-- Here a word's doclist holds only these three columns. Same split as kb_fts_en and
-- kb_fts_other (English stemmed, the rest not), published articles only, kept in step
-- by triggers of their own; an edit of the body alone does not touch these indexes.
CREATE VIRTUAL TABLE kb_head_en USING fts5(title, summary, tags,
    content='kb_articles', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE kb_head_other USING fts5(title, summary, tags,
    content='kb_articles', content_rowid='id', tokenize='unicode61 remove_diacritics 2');

INSERT INTO kb_head_en (rowid, title, summary, tags)
    SELECT id, title, summary, tags FROM kb_articles WHERE status = 'published' AND lang = 'en';
INSERT INTO kb_head_other (rowid, title, summary, tags)
    SELECT id, title, summary, tags FROM kb_articles WHERE status = 'published' AND lang <> 'en';

CREATE TRIGGER kb_articles_head_ai AFTER INSERT ON kb_articles WHEN new.status = 'published' BEGIN
    INSERT INTO kb_head_en (rowid, title, summary, tags)
        SELECT new.id, new.title, new.summary, new.tags WHERE new.lang = 'en';
    INSERT INTO kb_head_other (rowid, title, summary, tags)
        SELECT new.id, new.title, new.summary, new.tags WHERE new.lang <> 'en';
END;
CREATE TRIGGER kb_articles_head_ad AFTER DELETE ON kb_articles WHEN old.status = 'published' BEGIN
    INSERT INTO kb_head_en (kb_head_en, rowid, title, summary, tags)
        SELECT 'delete', old.id, old.title, old.summary, old.tags WHERE old.lang = 'en';
    INSERT INTO kb_head_other (kb_head_other, rowid, title, summary, tags)
        SELECT 'delete', old.id, old.title, old.summary, old.tags WHERE old.lang <> 'en';
END;
CREATE TRIGGER kb_articles_head_au AFTER UPDATE OF lang, title, summary, tags, status ON kb_articles BEGIN
    INSERT INTO kb_head_en (kb_head_en, rowid, title, summary, tags)
        SELECT 'delete', old.id, old.title, old.summary, old.tags
        WHERE old.lang = 'en' AND old.status = 'published';
    INSERT INTO kb_head_other (kb_head_other, rowid, title, summary, tags)
        SELECT 'delete', old.id, old.title, old.summary, old.tags
        WHERE old.lang <> 'en' AND old.status = 'published';
    INSERT INTO kb_head_en (rowid, title, summary, tags)
        SELECT new.id, new.title, new.summary, new.tags
        WHERE new.lang = 'en' AND new.status = 'published';
    INSERT INTO kb_head_other (rowid, title, summary, tags)
        SELECT new.id, new.title, new.summary, new.tags
        WHERE new.lang <> 'en' AND new.status = 'published';
END;

-- bm25 weights as kb_fts_en's for these columns (title, summary, tags).
INSERT INTO kb_head_en (kb_head_en, rank) VALUES ('rank', 'bm25(10.0, 4.0, 4.0)');
INSERT INTO kb_head_other (kb_head_other, rank) VALUES ('rank', 'bm25(10.0, 4.0, 4.0)');
