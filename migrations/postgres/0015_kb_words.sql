-- How many published articles hold each word, per text-search configuration ('english'
-- for English articles, 'simple' for the rest), as the index stores it (stemmed for
-- English). A search keeps its rarest words within a budget of articles to score; it
-- reads their counts here instead of counting matches in the index, which visits the
-- articles' rows. Refilled after each import (store.OptimizeKB); an article changed
-- since then only makes a count stale, never a search wrong.
CREATE TABLE kb_words (
    cfg  TEXT NOT NULL,
    word TEXT COLLATE "C" NOT NULL,   -- byte order: a prefix is a range of the key
    ndoc INTEGER NOT NULL,
    PRIMARY KEY (cfg, word)
);

-- Articles imported before this migration are counted now: an import that changes
-- nothing does not refill the table.
INSERT INTO kb_words (cfg, word, ndoc)
    SELECT 'english', word, ndoc FROM ts_stat('SELECT search FROM kb_articles WHERE status = ''published'' AND lang = ''en''');
INSERT INTO kb_words (cfg, word, ndoc)
    SELECT 'simple', word, ndoc FROM ts_stat('SELECT search FROM kb_articles WHERE status = ''published'' AND lang <> ''en''');
