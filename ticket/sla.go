package ticket

import "strconv"

// firstResponseHours is the default first-response target per priority, in working
// hours. The SLA clock with working hours and holidays replaces it (issue: time).
var firstResponseHours = map[string]int{"urgent": 1, "high": 4, "medium": 8, "low": 24}

// SLAExpectation says in words, in the contact's language, when to expect an answer.
func SLAExpectation(lang, priority string) string {
	h, ok := firstResponseHours[priority]
	if !ok {
		h = firstResponseHours["medium"]
	}
	if lang == "de" {
		if h == 1 {
			return "Wir antworten in der Regel innerhalb einer Arbeitsstunde."
		}
		return "Wir antworten in der Regel innerhalb von " + strconv.Itoa(h) + " Arbeitsstunden."
	}
	if h == 1 {
		return "We typically respond within 1 working hour."
	}
	return "We typically respond within " + strconv.Itoa(h) + " working hours."
}
