// Package account holds customer accounts for the portal, with no HTTP in it: password
// rules and argon2id hashing, server-side sessions, TOTP second factors with recovery
// codes, the emailed single-use tokens (verify, sign-in link, reset) and the mails that
// carry them, and the throttles in front of all of it. The portal turns requests into
// calls here and results into pages; the rules live here, once.
//
// An account belongs to one contact: the address it signs in with. It can sign in once
// that address is verified (by opening an emailed link), and then sees every ticket
// where the address is the contact or a participant, whoever created the ticket.
package account
