// Package kb turns a directory of Markdown files into knowledge-base articles: it reads
// each file's YAML front matter, renders the body once (goldmark, GitHub-flavoured,
// sanitised with bluemonday), collects the images beside it, and writes the result through
// store, idempotently. It serves nothing and searches nothing: the portal shows the
// articles and store.SearchKB ranks them in the database itself.
package kb
