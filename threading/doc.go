// Package threading decides which ticket a message belongs to, and nothing else: it reads
// parsed headers, the recipient and a Lookup, and never touches the network or the
// database itself. It owns the signed reply-address tokens and the sender rule of
// guarantee 3 (no hijacking): a message joins ticket N only when it proves it belongs
// there.
package threading
