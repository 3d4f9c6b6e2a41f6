package survey

import (
	_ "embed"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinPasswordLen follows NIST SP 800-63B: length over composition rules,
// plus a check against passwords everyone tries first.
const MinPasswordLen = 12

//go:embed common-passwords.txt
var commonPasswordList string

// commonPasswords holds the bundled list, in lower case.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(commonPasswordList, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			m[strings.ToLower(l)] = true
		}
	}
	return m
}()

// leet undoes the usual letter-for-symbol swaps, so "P@ssw0rd1234" is
// found as "password1234".
var leet = strings.NewReplacer("@", "a", "4", "a", "0", "o", "3", "e", "$", "s", "5", "s", "1", "i", "!", "i", "7", "t")

// CommonPassword reports whether pw is on the bundled list of common
// passwords (case and the usual symbol swaps ignored) or is made of very
// few distinct characters ("aaaaaaaaaaaa", "abababababab").
func CommonPassword(pw string) bool {
	lower := strings.ToLower(pw)
	// Swaps are undone up to the last letter only: "P@ssw0rd2024" is
	// "password2024", digits at the end stay digits.
	head, tail := lower, ""
	if i := strings.LastIndexFunc(lower, unicode.IsLetter); i >= 0 {
		head, tail = lower[:i+1], lower[i+1:]
	}
	if commonPasswords[lower] || commonPasswords[leet.Replace(head)+tail] {
		return true
	}
	distinct := map[rune]bool{}
	for _, r := range lower {
		distinct[r] = true
	}
	return len(distinct) < 5
}

func validPassword(v validation, pw string) {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		v.add("password", fmt.Sprintf("use at least %d characters", MinPasswordLen))
	case len(pw) > 72:
		v.add("password", "use at most 72 bytes")
	case CommonPassword(pw):
		v.add("password", "this password is too common or too simple: choose another, a few unrelated words work well")
	}
}
