package tenant

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// secret marks submitted values; it must never show up in an error.
const secret = "zzsecret"

func validRegistration() Registration {
	return Registration{
		Name:           "Acme Health",
		AdminEmail:     "zzsecret.admin@example.org",
		AdminFirstName: "Zzsecret-Ada",
		AdminLastName:  "Zzsecret-Lovelace",
	}
}

// longEmail returns local@domain of exactly n bytes (n >= 76) with every other rule met.
func longEmail(n int) string {
	local := strings.Repeat("z", 64)
	domain := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "."
	domain += strings.Repeat("c", n-len(local)-1-len(domain)-len(".org")) + ".org"
	return local + "@" + domain
}

func TestNormalizeValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Registration)
		want func(*Registration) // defaults to no change
	}{
		{name: "plain", edit: func(*Registration) {}},
		{
			name: "whitespace trimmed and collapsed",
			edit: func(r *Registration) {
				r.Name = " \t Acme \n\u00a0 Health\u3000Clinic  "
				r.AdminEmail = "  zzsecret.admin@example.org\n"
				r.AdminFirstName = "  Mary \t Ann "
				r.AdminLastName = "\u2003Lovelace\u2003"
			},
			want: func(r *Registration) {
				r.Name = "Acme Health Clinic"
				r.AdminEmail = "zzsecret.admin@example.org"
				r.AdminFirstName = "Mary Ann"
				r.AdminLastName = "Lovelace"
			},
		},
		{name: "unicode name", edit: func(r *Registration) { r.Name = "Clínica São José" }},
		{
			name: "decomposed input composed to NFC",
			edit: func(r *Registration) {
				r.Name = "Cli\u0301nica Sa\u0303o Jose\u0301"
				r.AdminLastName = "Mu\u0308ller"
			},
			want: func(r *Registration) {
				r.Name = "Clínica São José"
				r.AdminLastName = "Müller"
			},
		},
		{name: "name exactly 3 runes", edit: func(r *Registration) { r.Name = "A&E" }},
		{name: "name exactly 255 runes", edit: func(r *Registration) { r.Name = strings.Repeat("a", 255) }},
		{name: "name 255 multi-byte runes", edit: func(r *Registration) { r.Name = strings.Repeat("é", 255) }},
		{name: "name 255 four-byte runes", edit: func(r *Registration) { r.Name = strings.Repeat("𝔄", 255) }},
		{
			name: "name 510 decomposed runes compose to 255",
			edit: func(r *Registration) { r.Name = strings.Repeat("e\u0301", 255) },
			want: func(r *Registration) { r.Name = strings.Repeat("é", 255) },
		},
		{name: "name of digits", edit: func(r *Registration) { r.Name = "112 Emergency" }},
		{name: "CJK name", edit: func(r *Registration) { r.Name = "北京医院" }},
		{
			name: "email domain lowercased, local part kept",
			edit: func(r *Registration) { r.AdminEmail = "Dr.Who+Admin@Clinic.Example.COM" },
			want: func(r *Registration) { r.AdminEmail = "Dr.Who+Admin@clinic.example.com" },
		},
		{name: "email local part 64 bytes", edit: func(r *Registration) { r.AdminEmail = strings.Repeat("z", 64) + "@example.org" }},
		{name: "email 254 bytes", edit: func(r *Registration) { r.AdminEmail = longEmail(254) }},
		{name: "email hyphen inside label", edit: func(r *Registration) { r.AdminEmail = "a@my-clinic.co.uk" }},
		{name: "email punycode TLD", edit: func(r *Registration) { r.AdminEmail = "a@xn--80akhbyknj4f.xn--p1ai" }},
		{name: "email non-ASCII local part", edit: func(r *Registration) { r.AdminEmail = "jürgen@example.de" }},
		{name: "single-rune first name", edit: func(r *Registration) { r.AdminFirstName = "J" }},
		{name: "last name 100 runes", edit: func(r *Registration) { r.AdminLastName = strings.Repeat("ł", 100) }},
		{name: "names with apostrophe and hyphen", edit: func(r *Registration) {
			r.AdminFirstName = "Zoë-Anne"
			r.AdminLastName = "O'Connor"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := validRegistration()
			tt.edit(&in)
			want := in
			if tt.want != nil {
				want = validRegistration()
				tt.edit(&want)
				tt.want(&want)
			}
			got, err := in.Normalize()
			if err != nil {
				t.Fatalf("Normalize() error = %v", err)
			}
			if got != want {
				t.Fatalf("Normalize() = %+q\nwant          %+q", got, want)
			}
		})
	}
}

func TestNormalizeInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Registration)
		want []string
	}{
		{"name empty", func(r *Registration) { r.Name = "" }, []string{"name"}},
		{"name only whitespace", func(r *Registration) { r.Name = " \t\u00a0\n" }, []string{"name"}},
		{"name too short", func(r *Registration) { r.Name = "zz" }, []string{"name"}},
		{"name too short after collapse", func(r *Registration) { r.Name = "  z   " }, []string{"name"}},
		{"name too short after NFC", func(r *Registration) { r.Name = "a\u0301b" }, []string{"name"}},
		{"name 256 runes", func(r *Registration) { r.Name = strings.Repeat(secret, 32) }, []string{"name"}},
		{"name 256 multi-byte runes", func(r *Registration) { r.Name = strings.Repeat("é", 256) }, []string{"name"}},
		{"name NUL", func(r *Registration) { r.Name = secret + "\x00name" }, []string{"name"}},
		{"name escape", func(r *Registration) { r.Name = secret + "\x1b[31mname" }, []string{"name"}},
		{"name DEL", func(r *Registration) { r.Name = secret + "\x7fname" }, []string{"name"}},
		{"name bidi override", func(r *Registration) { r.Name = secret + "\u202ename" }, []string{"name"}},
		{"name zero-width space", func(r *Registration) { r.Name = secret + "\u200bname" }, []string{"name"}},
		{"name BOM", func(r *Registration) { r.Name = "\ufeff" + secret }, []string{"name"}},
		{"name private use", func(r *Registration) { r.Name = secret + "\ue000" }, []string{"name"}},
		{"name unassigned", func(r *Registration) { r.Name = secret + "\u0378" }, []string{"name"}},
		{"name invalid UTF-8", func(r *Registration) { r.Name = secret + "\xff" }, []string{"name"}},
		{"name only punctuation", func(r *Registration) { r.Name = "-- !!! ??? --" }, []string{"name"}},
		{"name only symbols", func(r *Registration) { r.Name = "★★★" }, []string{"name"}},

		{"email empty", func(r *Registration) { r.AdminEmail = " " }, []string{"adminEmail"}},
		{"email missing @", func(r *Registration) { r.AdminEmail = "zzsecret.example.org" }, []string{"adminEmail"}},
		{"email two @", func(r *Registration) { r.AdminEmail = "zzsecret@admin@example.org" }, []string{"adminEmail"}},
		{"email display name", func(r *Registration) { r.AdminEmail = "Zzsecret <zzsecret@example.org>" }, []string{"adminEmail"}},
		{"email angle brackets", func(r *Registration) { r.AdminEmail = "<zzsecret@example.org>" }, []string{"adminEmail"}},
		{"email comment", func(r *Registration) { r.AdminEmail = "zzsecret@example.org (zzsecret)" }, []string{"adminEmail"}},
		{"email quoted local part", func(r *Registration) { r.AdminEmail = `"zzsecret"@example.org` }, []string{"adminEmail"}},
		{"email inner space", func(r *Registration) { r.AdminEmail = "zz secret@example.org" }, []string{"adminEmail"}},
		{"email no dot in domain", func(r *Registration) { r.AdminEmail = "zzsecret@localhost" }, []string{"adminEmail"}},
		{"email empty local part", func(r *Registration) { r.AdminEmail = "@zzsecret.org" }, []string{"adminEmail"}},
		{"email 65-byte local part", func(r *Registration) { r.AdminEmail = strings.Repeat("z", 65) + "@example.org" }, []string{"adminEmail"}},
		{"email 255 bytes", func(r *Registration) { r.AdminEmail = longEmail(255) }, []string{"adminEmail"}},
		{"email leading hyphen label", func(r *Registration) { r.AdminEmail = "zzsecret@-example.org" }, []string{"adminEmail"}},
		{"email trailing hyphen label", func(r *Registration) { r.AdminEmail = "zzsecret@example-.org" }, []string{"adminEmail"}},
		{"email empty label", func(r *Registration) { r.AdminEmail = "zzsecret@example..org" }, []string{"adminEmail"}},
		{"email trailing dot", func(r *Registration) { r.AdminEmail = "zzsecret@example.org." }, []string{"adminEmail"}},
		{"email underscore in domain", func(r *Registration) { r.AdminEmail = "zzsecret@ex_ample.org" }, []string{"adminEmail"}},
		{"email 64-byte label", func(r *Registration) { r.AdminEmail = "zzsecret@" + strings.Repeat("a", 64) + ".org" }, []string{"adminEmail"}},
		{"email numeric TLD", func(r *Registration) { r.AdminEmail = "zzsecret@10.0.0.1" }, []string{"adminEmail"}},
		{"email one-letter TLD", func(r *Registration) { r.AdminEmail = "zzsecret@example.o" }, []string{"adminEmail"}},
		{"email IP literal", func(r *Registration) { r.AdminEmail = "zzsecret@[192.168.0.1]" }, []string{"adminEmail"}},
		{"email unicode domain", func(r *Registration) { r.AdminEmail = "zzsecret@bücher.de" }, []string{"adminEmail"}},
		{"email double dot local part", func(r *Registration) { r.AdminEmail = "zz..secret@example.org" }, []string{"adminEmail"}},
		{"email bidi override in local part", func(r *Registration) { r.AdminEmail = "zzsecret\u202e@example.org" }, []string{"adminEmail"}},
		{"email zero-width space in local part", func(r *Registration) { r.AdminEmail = "zz\u200bsecret@example.org" }, []string{"adminEmail"}},
		{"email invalid UTF-8", func(r *Registration) { r.AdminEmail = "zzsecret\xff@example.org" }, []string{"adminEmail"}},

		{"first name empty", func(r *Registration) { r.AdminFirstName = "" }, []string{"adminFirstName"}},
		{"first name control char", func(r *Registration) { r.AdminFirstName = "Zzsecret\x07Ada" }, []string{"adminFirstName"}},
		{"first name bidi override", func(r *Registration) { r.AdminFirstName = "\u202eZzsecret" }, []string{"adminFirstName"}},
		{"last name only whitespace", func(r *Registration) { r.AdminLastName = "\t \u2003" }, []string{"adminLastName"}},
		{"last name 101 runes", func(r *Registration) { r.AdminLastName = strings.Repeat("ł", 101) }, []string{"adminLastName"}},
		{"last name 101 runes with secret", func(r *Registration) {
			r.AdminLastName = "Zzsecret-" + strings.Repeat("x", 92)
		}, []string{"adminLastName"}},

		{"every field", func(r *Registration) {
			r.Name = "zz-secret-name-zz\u202e"
			r.AdminEmail = "Zzsecret <zzsecret@example.org>"
			r.AdminFirstName = ""
			r.AdminLastName = "Zzsecret\x00"
		}, []string{"name", "adminEmail", "adminFirstName", "adminLastName"}},
		{"name and last name", func(r *Registration) {
			r.Name = "zz"
			r.AdminLastName = ""
		}, []string{"name", "adminLastName"}},
		{"email and first name", func(r *Registration) {
			r.AdminEmail = "zzsecret@localhost"
			r.AdminFirstName = strings.Repeat(secret, 13)
		}, []string{"adminEmail", "adminFirstName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := validRegistration()
			tt.edit(&in)
			got, err := in.Normalize()
			var ve *fault.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Normalize() error = %v (%T), want *fault.ValidationError", err, err)
			}
			if got != (Registration{}) {
				t.Errorf("Normalize() returned %+q with an error", got)
			}
			if ve.Op != "validate registration" {
				t.Errorf("Op = %q", ve.Op)
			}
			var fields []string
			for _, f := range ve.Fields {
				fields = append(fields, f.Field)
			}
			if !slices.Equal(fields, tt.want) {
				t.Fatalf("fields = %q, want %q", fields, tt.want)
			}
			assertNoLeak(t, in, err.Error())
			for _, f := range ve.Fields {
				if f.Message == "" {
					t.Errorf("field %s: empty message", f.Field)
				}
				assertNoLeak(t, in, f.Message)
			}
		})
	}
}

// assertNoLeak fails if msg repeats the secret marker or any submitted value long enough
// to be identifying.
func assertNoLeak(t *testing.T, in Registration, msg string) {
	t.Helper()
	if strings.Contains(strings.ToLower(msg), secret) {
		t.Errorf("error text %q contains submitted value", msg)
	}
	for _, v := range []string{in.Name, in.AdminEmail, in.AdminFirstName, in.AdminLastName} {
		if v = strings.TrimSpace(v); len(v) >= 4 && strings.Contains(msg, v) {
			t.Errorf("error text %q contains submitted value %q", msg, v)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	seeds := []Registration{
		validRegistration(),
		{"Clínica São José", "Dr.Who@Clinic.Example.COM", "Zoë", "O'Connor"},
		{" \t a\u0301b  c ", "A <a@b.org>", "\u202e", "\x00"},
		{strings.Repeat("e\u0301", 255), longEmail(254), strings.Repeat("ł", 100), "J"},
		{"\u0345" + strings.Repeat("\u0301", 40), `"a b"@c.de`, "\xff", "\u2000\u2001x"},
		{"北京医院", "jürgen@xn--80akhbyknj4f.xn--p1ai", "a\u200bb", "\ufeff"},
	}
	for _, s := range seeds {
		f.Add(s.Name, s.AdminEmail, s.AdminFirstName, s.AdminLastName)
	}
	order := []string{"name", "adminEmail", "adminFirstName", "adminLastName"}
	f.Fuzz(func(t *testing.T, name, email, first, last string) {
		got, err := Registration{name, email, first, last}.Normalize()
		if err != nil {
			var ve *fault.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("error = %#v, want *fault.ValidationError with fields", err)
			}
			var fields []string
			for _, fe := range ve.Fields {
				fields = append(fields, fe.Field)
			}
			if !isSubsequence(fields, order) {
				t.Fatalf("fields %q not a subsequence of %q", fields, order)
			}
			return
		}
		if n := utf8.RuneCountInString(got.Name); n < 3 || n > 255 {
			t.Fatalf("Name has %d runes", n)
		}
		for _, s := range []string{got.Name, got.AdminFirstName, got.AdminLastName} {
			if !utf8.ValidString(s) || !norm.NFC.IsNormalString(s) {
				t.Fatalf("%+q is not valid NFC", s)
			}
			if s != strings.Join(strings.Fields(s), " ") {
				t.Fatalf("%+q has uncollapsed whitespace", s)
			}
			for _, r := range s {
				if !unicode.IsPrint(r) {
					t.Fatalf("%+q contains non-printable %U", s, r)
				}
			}
		}
		again, err := got.Normalize()
		if err != nil {
			t.Fatalf("normalizing %+q again: %v", got, err)
		}
		if again != got {
			t.Fatalf("not idempotent: %+q then %+q", got, again)
		}
	})
}

func isSubsequence(sub, of []string) bool {
	i := 0
	for _, s := range of {
		if i < len(sub) && sub[i] == s {
			i++
		}
	}
	return i == len(sub)
}
