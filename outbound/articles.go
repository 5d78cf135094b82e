package outbound

// Article is a knowledge-base article a notification points to: the acknowledgement of
// a new ticket lists those that may already answer it.
type Article struct {
	Title   string
	Summary string
	URL     string
}
