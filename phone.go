package nubiq

import (
	"strings"
)

// NormalizePhone returns the E.164 form ("+" and 8 to 15 digits) of a phone number written in
// any common way: with spaces, dots, dashes, slashes or parentheses; with a leading "+" or
// "00" international prefix; with a national trunk "(0)" after the country code
// ("+44 (0)20 7946 0958"); with an extension ("x12", "ext. 12", "#12"), which is dropped.
//
// A number without an international prefix is read as national to the country whose calling
// code is defaultCC ("1", "44", ...), dropping a leading trunk "0"; with an empty defaultCC it
// cannot be placed and ok is false. NormalizePhone checks the shape only, not whether the
// number exists.
func NormalizePhone(s, defaultCC string) (e164 string, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	// Drop an extension.
	lower := strings.ToLower(s)
	for _, marker := range []string{"ext.", "ext", "x", "#", ";"} {
		if i := strings.Index(lower, marker); i > 0 {
			s, lower = s[:i], lower[:i]
		}
	}
	s = strings.ReplaceAll(s, "(0)", "")

	var digits strings.Builder
	international := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r >= '０' && r <= '９': // full-width digits
			digits.WriteRune('0' + (r - '０'))
		case r == '+' && digits.Len() == 0 && !international:
			international = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/' || r == '\u00a0':
		default:
			return "", false // letters or other symbols: not a phone number
		}
	}
	d := digits.String()
	if !international && strings.HasPrefix(d, "00") {
		international, d = true, d[2:]
	}
	if !international {
		if defaultCC == "" {
			return "", false
		}
		switch {
		case defaultCC == "1" && len(d) == 11 && d[0] == '1':
			d = d[1:] // NANP numbers are often written with their country code but no "+"
		case strings.HasPrefix(d, "0"):
			d = d[1:]
		}
		d = defaultCC + d
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", false
	}
	return "+" + d, true
}

// PhoneDigits returns the digits of a phone number as written, without any prefix or
// separator, dropping an extension and a national trunk "0": the part that ends every way of
// writing the number, which a suffix match can compare.
func PhoneDigits(s string) string {
	lower := strings.ToLower(s)
	for _, marker := range []string{"ext.", "ext", "x", "#", ";"} {
		if i := strings.Index(lower, marker); i > 0 {
			s, lower = s[:i], lower[:i]
		}
	}
	s = strings.ReplaceAll(s, "(0)", "")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune('0' + (r - '０'))
		}
	}
	return strings.TrimLeft(b.String(), "0")
}
