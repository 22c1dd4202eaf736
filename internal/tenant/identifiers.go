package tenant

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"
)

// MaxIdentifierBytes is PostgreSQL's NAMEDATALEN-1. Longer identifiers are truncated
// without an error, so two tenants could silently end up sharing a schema.
const MaxIdentifierBytes = 63

const (
	maxSlugPartBytes = 48 // "t_" + 48 + "_" + 12 = 63
	idSuffixLen      = 12
)

// foldings covers letters that have no canonical decomposition, so NFKD plus mark
// removal would otherwise turn them into separators.
var foldings = map[rune]string{
	'ß': "ss", 'ẞ': "ss",
	'æ': "ae", 'Æ': "ae",
	'ø': "o", 'Ø': "o",
	'œ': "oe", 'Œ': "oe",
	'ł': "l", 'Ł': "l",
	'đ': "d", 'Đ': "d", 'ð': "d", 'Ð': "d",
	'þ': "th", 'Þ': "th",
	'ı': "i",
}

// Slug returns a lowercase ASCII rendering of name with '-' between words, for humans
// reading schema names and URLs. Scripts without a Latin transliteration produce "".
func Slug(name string) string {
	var b strings.Builder
	dash := false
	emit := func(s string) {
		if dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = false
		b.WriteString(s)
	}
	for _, r := range norm.NFKD.String(name) {
		switch {
		case unicode.Is(unicode.M, r):
			// A mark belongs to the letter before it: "Cafe\u0301" must stay one word.
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			emit(string(r))
		case 'A' <= r && r <= 'Z':
			emit(string(r + 'a' - 'A'))
		case foldings[r] != "":
			emit(foldings[r])
		default:
			dash = true
		}
	}
	return b.String()
}

// SchemaName returns the PostgreSQL schema (and role) name for a tenant. The readable
// part helps operators; uniqueness comes from the id suffix, the low 48 bits of the
// UUID, which are random in UUIDv7 and v4. The "t_" prefix keeps the name clear of
// digits at the start, pg_*, public and information_schema.
func SchemaName(name string, id uuid.UUID) string {
	hex := id.String()
	suffix := hex[len(hex)-idSuffixLen:]
	slug := strings.ReplaceAll(Slug(name), "-", "_")
	if len(slug) > maxSlugPartBytes {
		slug = strings.TrimRight(slug[:maxSlugPartBytes], "_")
	}
	if slug == "" {
		slug = "tenant"
	}
	return "t_" + slug + "_" + suffix
}

var schemaNameRE = regexp.MustCompile(`^t_[a-z0-9_]+$`)

// ValidSchemaName reports whether s has the shape SchemaName produces: usable unquoted,
// never truncated by PostgreSQL, inside the tenant namespace. It is the guard for names
// that come back from storage or events before they reach DDL.
func ValidSchemaName(s string) bool {
	return len(s) <= MaxIdentifierBytes && schemaNameRE.MatchString(s)
}
