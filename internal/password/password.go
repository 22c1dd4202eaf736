// Package password is the policy a new password meets (NIST SP 800-63B): 12 to 128
// characters, no composition rules, and none of the values an attacker tries first: a
// commonly used or breached password, a repeat or a run, or the account's own words (the
// organisation's name, the person's name and e-mail address).
//
// passwords.txt is the common-password list of zxcvbn-ts (npm @zxcvbn-ts/language-common
// 4.1.3, src/passwords.json, one a line; MIT, passwords.LICENSE.txt): 49,233 passwords
// from breach corpora, most used first. It is embedded and read on the first Check, so a
// process that never checks a password pays nothing for it.
package password

import (
	_ "embed"
	"errors"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Length bounds, in characters: long passphrases welcome; the upper bound keeps one
// argon2id input reasonable.
const (
	MinLen = 12
	MaxLen = 128
)

// Why a password is refused. The texts complete "The password …" for the person choosing
// it, and never repeat it.
var (
	ErrInvalidUTF8  = errors.New("must be valid UTF-8")
	ErrLength       = errors.New("must be 12 to 128 characters long")
	ErrBlank        = errors.New("must not be blank")
	ErrCommon       = errors.New("must not be a commonly used or breached password, even with digits, symbols or look-alike characters added")
	ErrPredictable  = errors.New("must not be one character or sequence repeated, or a run such as abcdef or 123456")
	ErrPersonal     = errors.New("must not contain your name or e-mail address")
	ErrOrganisation = errors.New("must not contain the organisation's name")
)

// Context is what the account's own details say: a password containing any of it is
// among the first an attacker who knows the account would try.
type Context struct {
	OrganisationName, OrganisationSlug string
	// Email is the account's address: its local part is the person's, its domain the
	// organisation's.
	Email               string
	FirstName, LastName string
}

// minWord is the shortest of the context's words a password may not contain: shorter ones
// ("Ada", "St") turn up by chance in good passphrases.
const minWord = 4

// Check returns nil when p may be the account's new password, else the first Err* it
// breaks.
func Check(p string, c Context) error {
	n := utf8.RuneCountInString(p)
	switch {
	case !utf8.ValidString(p):
		return ErrInvalidUTF8
	case n < MinLen || n > MaxLen:
		return ErrLength
	case strings.TrimSpace(p) == "":
		return ErrBlank
	}
	folded := fold(p)
	personal, organisation := c.words()
	switch {
	case containsAny(folded, personal):
		return ErrPersonal
	case containsAny(folded, organisation):
		return ErrOrganisation
	case common(p):
		return ErrCommon
	case repeated(strings.ToLower(p)) || repeated(folded) || run(p):
		return ErrPredictable
	}
	return nil
}

// words are the context's words, folded: each value whole and each of its parts.
func (c Context) words() (personal, organisation []string) {
	local, domain, _ := strings.Cut(c.Email, "@")
	personal = wordsOf(local, c.FirstName, c.LastName)
	if w := fold(c.Email); utf8.RuneCountInString(w) >= minWord {
		personal = append(personal, w) // the address whole, even when its local part is short
	}
	// The domain without its top-level label: "acme" of acme.example, not "example".
	if i := strings.LastIndexByte(domain, '.'); i > 0 {
		domain = domain[:i]
	}
	organisation = wordsOf(c.OrganisationName, c.OrganisationSlug, domain)
	return personal, organisation
}

func wordsOf(values ...string) []string {
	var words []string
	add := func(s string) {
		if w := fold(s); utf8.RuneCountInString(w) >= minWord {
			words = append(words, w)
		}
	}
	for _, v := range values {
		add(v)
		for part := range strings.FieldsFuncSeq(v, notAlphanumeric) {
			add(part)
		}
	}
	return words
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func notAlphanumeric(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// fold is how passwords are compared: lower case, look-alike characters as the letter they
// stand for (p@ssw0rd is password, 1 and l are i) and only letters and digits kept.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		r = unicode.ToLower(r)
		switch r {
		case '4', '@':
			r = 'a'
		case '8':
			r = 'b'
		case '3':
			r = 'e'
		case '6', '9':
			r = 'g'
		case '1', '!', '|', 'l':
			r = 'i'
		case '0':
			r = 'o'
		case '5', '$':
			r = 's'
		case '7', '+':
			r = 't'
		case '2':
			r = 'z'
		}
		if !notAlphanumeric(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

//go:embed passwords.txt
var commonPasswords string

// blocklist is the common passwords, folded; built on first use (a few milliseconds).
var blocklist = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, strings.Count(commonPasswords, "\n"))
	for line := range strings.Lines(commonPasswords) {
		if w := fold(line); w != "" {
			m[w] = struct{}{}
		}
	}
	return m
})

// common reports whether p is a common password, also with digits, symbols or spaces
// before or after it: every part of p from its first letter or before to its last letter
// or after is looked up (password, Password1234!, !!p@ssw0rd2024).
func common(p string) bool {
	list := blocklist()
	rs := []rune(p)
	first, last := -1, -1
	for i, r := range rs {
		if unicode.IsLetter(r) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		_, found := list[fold(p)]
		return found
	}
	for i := 0; i <= first; i++ {
		for j := last + 1; j <= len(rs); j++ {
			if _, found := list[fold(string(rs[i:j]))]; found {
				return true
			}
		}
	}
	return false
}

// repeated reports whether s is one shorter string over and over (aaaaaaaaaaaa,
// ............, passwordpassword).
func repeated(s string) bool {
	for unit := 1; unit <= len(s)/2; unit++ {
		if len(s)%unit == 0 && strings.Repeat(s[:unit], len(s)/unit) == s {
			return true
		}
	}
	return false
}

// run reports whether p's letters and digits step through the alphabet or the digits
// one way (abcdefghijkl, 987654321098), ignoring case and separators.
func run(p string) bool {
	var rs []rune
	for _, r := range strings.ToLower(p) {
		if !notAlphanumeric(r) {
			rs = append(rs, r)
		}
	}
	if len(rs) < 3 {
		return false
	}
	step := func(a, b rune) rune {
		if '0' <= a && a <= '9' && '0' <= b && b <= '9' {
			return ((b-a)%10 + 10) % 10 // 9 then 0 is a step up
		}
		return b - a
	}
	d := step(rs[0], rs[1])
	if d != 1 && d != -1 && d != 9 {
		return false
	}
	for i := 2; i < len(rs); i++ {
		if step(rs[i-1], rs[i]) != d {
			return false
		}
	}
	return true
}
