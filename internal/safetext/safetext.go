// Package safetext makes text from a user's files and arguments safe to
// echo to a terminal: control characters, escape sequences and bytes that
// are not UTF-8 are shown escaped, never sent raw.
package safetext

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Printable reports whether s may be echoed as it is: valid UTF-8 with no
// control characters but newlines and tabs.
func Printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r != '\n' && r != '\t' && !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Show returns s as it is when it is printable on one line, and quoted
// with its special characters escaped otherwise.
func Show(s string) string {
	for _, r := range s {
		if r == '\n' || r == '\t' {
			return strconv.Quote(s)
		}
	}
	if Printable(s) {
		return s
	}
	return strconv.Quote(s)
}
