-- The search index split by configuration, as searches are: one SELECT for English
-- articles (stemmed) and one for the rest. With one index for both, each SELECT matched
-- every article holding its words in the index and then read each matched row only to
-- drop it for its language (2 of 17 ms of a search among 10,000 English articles).
DROP INDEX kb_articles_search;
CREATE INDEX kb_articles_search_en ON kb_articles USING GIN (search) WHERE status = 'published' AND lang = 'en';
CREATE INDEX kb_articles_search_other ON kb_articles USING GIN (search) WHERE status = 'published' AND lang <> 'en';
