// Package threading holds the pure decisions about conversations: which ticket a message
// belongs to (from parsed headers, the recipient and a Lookup), what of a reply a reader
// needs to see (quoted history and signatures stripped), and what an agent's reply asks
// for (commands). It never touches the network or the database. It owns the signed
// reply-address tokens and the sender rule of guarantee 3 (no hijacking): a message
// joins ticket N only when it proves it belongs there.
package threading
