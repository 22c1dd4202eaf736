package tenant

import (
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Registration is what an admin submits to create a tenant.
type Registration struct {
	Name           string `json:"name"`
	AdminEmail     string `json:"adminEmail"`
	AdminFirstName string `json:"adminFirstName"`
	AdminLastName  string `json:"adminLastName"`
}

const (
	minNameRunes       = 3
	maxNameRunes       = 255
	maxPersonNameRunes = 100
	maxEmailBytes      = 254 // RFC 5321 path limit minus the angle brackets
	maxLocalPartBytes  = 64
	maxLabelBytes      = 63
)

// Normalize returns the canonical form of r, or a *fault.ValidationError naming every
// invalid field. Messages are constants: healthcare audits treat an echoed e-mail or
// name in a log line as a personal-data leak.
func (r Registration) Normalize() (Registration, error) {
	var errs []fault.FieldError
	check := func(field string, v *string, normalize func(string) (string, string)) {
		s, msg := normalize(*v)
		if msg != "" {
			errs = append(errs, fault.FieldError{Field: field, Message: msg})
			return
		}
		*v = s
	}
	check("name", &r.Name, normalizeTenantName)
	check("adminEmail", &r.AdminEmail, normalizeEmail)
	check("adminFirstName", &r.AdminFirstName, normalizePersonName)
	check("adminLastName", &r.AdminLastName, normalizePersonName)
	if errs != nil {
		return Registration{}, &fault.ValidationError{Op: "validate registration", Fields: errs}
	}
	return r, nil
}

// normalizeText collapses whitespace and composes to NFC so that visually identical
// names compare (and hit unique indexes) as equal, then checks the result. msg is empty
// on success.
func normalizeText(s string, minRunes, maxRunes int) (string, string) {
	if !utf8.ValidString(s) {
		return "", "must be valid UTF-8"
	}
	s = norm.NFC.String(strings.Join(strings.Fields(s), " "))
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return "", "is required"
	case !printable(s):
		return "", "must not contain control, formatting or invisible characters"
	case n < minRunes || n > maxRunes:
		return "", "must be between " + strconv.Itoa(minRunes) + " and " + strconv.Itoa(maxRunes) + " characters"
	}
	return s, ""
}

func normalizeTenantName(s string) (string, string) {
	s, msg := normalizeText(s, minNameRunes, maxNameRunes)
	if msg == "" && !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
		return "", "must contain at least one letter or digit"
	}
	return s, msg
}

func normalizePersonName(s string) (string, string) {
	return normalizeText(s, 1, maxPersonNameRunes)
}

// normalizeEmail accepts only a bare addr-spec with a DNS domain, the form every mail
// provider and identity service takes. The domain is lowercased because DNS is case-
// insensitive; the local part is kept as typed because RFC 5321 lets the receiving host
// treat its case as significant.
func normalizeEmail(s string) (string, string) {
	const invalid = "must be a plain e-mail address such as name@example.org"
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", "is required"
	case len(s) > maxEmailBytes:
		return "", "must be at most 254 bytes"
	case !utf8.ValidString(s) || strings.Count(s, "@") != 1:
		return "", invalid
	}
	// The parser's errors quote the input, so only its verdict is used. Comparing the
	// parsed address with the input rejects display names, comments, angle brackets and
	// quoted local parts, which the parser would otherwise silently strip.
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
		return "", invalid
	}
	local, domain, _ := strings.Cut(s, "@")
	switch {
	case len(local) < 1 || len(local) > maxLocalPartBytes:
		return "", "local part must be 1 to 64 bytes"
	case !printable(local):
		// net/mail admits any non-ASCII rune, bidi overrides and zero-width spaces included.
		return "", "must not contain control, formatting or invisible characters"
	case !validDomain(domain):
		return "", "domain must be a DNS name such as example.org"
	}
	return local + "@" + strings.ToLower(domain), ""
}

// validDomain accepts LDH host names only: no IP literals, no single-label hosts, and IDNs
// only in their ASCII (xn--) form so the stored address is what DNS resolves.
func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > maxLabelBytes || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !isASCIIAlnum(c) && c != '-' {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) >= 4 && strings.EqualFold(tld[:4], "xn--") {
		return true
	}
	if len(tld) < 2 {
		return false
	}
	for _, c := range []byte(tld) {
		if !('a' <= c|0x20 && c|0x20 <= 'z') {
			return false
		}
	}
	return true
}

// printable rejects what renders as nothing or as something else: control characters,
// format characters such as U+200B and bidi overrides, private-use and unassigned code
// points. Whitespace has already been collapsed to ASCII spaces, which IsPrint allows.
func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
