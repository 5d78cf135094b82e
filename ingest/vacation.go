package ingest

import "strings"

// autoReplySubjects start the subjects out-of-office and other autoresponders write,
// in the languages our customers' mail systems speak. Some autoresponders (older
// Exchange, Lotus Notes, many webmail vacation features) set none of the RFC 3834
// headers, so the subject is the only sign left. A subject counts only when it is one
// of these, or starts with one followed by a colon: "Out of office: printer" is an
// autoresponder, "Out of office settings broken" a customer.
var autoReplySubjects = []string{
	"out of office", "out of the office", "automatic reply", "auto reply", "auto-reply", "autoreply",
	"auto response", "autoresponse", "away from office", "on vacation", "vacation reply",
	"abwesenheitsnotiz", "automatische antwort", "abwesend", // de
	"réponse automatique",               // fr
	"risposta automatica", "fuori sede", // it
	"respuesta automática", "fuera de la oficina", // es
	"resposta automática",             // pt
	"automatisch antwoord", "afwezig", // nl
	"autosvar", "frånvaro", "fravær", // sv, no, da
	"automaattinen vastaus",  // fi
	"automatyczna odpowiedź", // pl
	"自動応答", "自动回复",           // ja, zh
}

// autoReplySubject returns the autoresponder prefix a subject starts with, or "".
func autoReplySubject(subject string) string {
	s := strings.ToLower(strings.Join(strings.Fields(subject), " "))
	for _, p := range autoReplySubjects {
		if s == p {
			return p
		}
		if rest, ok := strings.CutPrefix(s, p); ok {
			rest = strings.TrimLeft(rest, " ")
			if strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "：") {
				return p
			}
		}
	}
	return ""
}
