package password

import (
	"errors"
	"strings"
	"testing"
)

// An account like the ones the pipeline provisions: Acme Health's admin.
var acme = Context{OrganisationName: "Acme Health Partners", OrganisationSlug: "acme-health-partners",
	Email: "quinn.medic@acmehealth.example", FirstName: "Quinn", LastName: "Okonkwo"}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		password string
		want     error
	}{
		// Good passphrases: long, unrelated words, nothing of the account.
		{"a long passphrase, easy to remember", nil},
		{"violet kettle drums at noon", nil},
		{"Seven otters juggle quietly", nil},
		{"ünïcödé wörds are fine here", nil},
		{strings.Repeat("xq7 ", 31) + "z9k", nil},

		{"short", ErrLength},
		{strings.Repeat("x", MaxLen+1), ErrLength},
		{"\xff" + strings.Repeat("x", 20), ErrInvalidUTF8},
		{strings.Repeat(" ", 20), ErrBlank},

		// On the list, whole or with digits, symbols and look-alikes around and in it.
		{"password1234", ErrCommon},
		{"Password123!", ErrCommon},
		{"P@ssw0rd2024!", ErrCommon},
		{"!!pa55word!!2024", ErrCommon},
		{"qwertyuiop123", ErrCommon},
		{"iloveyou2024!", ErrCommon},
		{"Summer2024!!", ErrCommon},
		{"1qaz2wsx3edc", ErrCommon},
		{"123456789012", ErrCommon},
		{"pass word 1234", ErrCommon},

		// Repeats and runs.
		{"aaaaaaaaaaaa", ErrPredictable},
		{"............", ErrPredictable},
		{"trustno1trustno1", ErrPredictable},
		{"Xk9#mQXk9#mQ", ErrPredictable},
		{"abcdefghijklm", ErrPredictable},
		{"ZYXW-VUTS-RQPO", ErrPredictable},
		{"7890123456789", ErrPredictable},
		{"987654321098", ErrPredictable},

		// The account's own words, also disguised.
		{"quinn.medic@acmehealth.example", ErrPersonal},
		{"my name is Quinn, hello", ErrPersonal},
		{"Okonkwo-was-here-2024", ErrPersonal},
		{"QuinnMedic2024!", ErrPersonal},
		{"0k0nkw0 rules the world", ErrPersonal},
		{"Acme Health 2024!", ErrOrganisation},
		{"welcome to @cme, friends", ErrOrganisation},
		{"acme-health-partners", ErrOrganisation},
		{"partners in crime forever", ErrOrganisation},
		{"acmehealth is where I work", ErrOrganisation},
	} {
		t.Run(c.password, func(t *testing.T) {
			t.Parallel()
			err := Check(c.password, acme)
			if !errors.Is(err, c.want) {
				t.Fatalf("Check = %v, want %v", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), c.password) {
				t.Errorf("the reason repeats the password: %v", err)
			}
		})
	}
}

// Short words of the account ("Ada", "Lee", the domain's "example") are not held against
// a passphrase: they turn up by chance.
func TestShortAndGenericWordsAreNotContext(t *testing.T) {
	t.Parallel()
	c := Context{OrganisationName: "St Ann", OrganisationSlug: "st-ann", Email: "ada@st-ann.example", FirstName: "Ada", LastName: "Lee"}
	for _, p := range []string{"canadian adage of steel", "an example for the ages", "stand by the anniversary"} {
		if err := Check(p, c); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	if err := Check("ada@st-ann.example!", c); !errors.Is(err, ErrPersonal) {
		t.Errorf("the whole address: %v", err)
	}
}

// An account with nothing known about it holds only the rest of the policy.
func TestEmptyContext(t *testing.T) {
	t.Parallel()
	if err := Check("violet kettle drums at noon", Context{}); err != nil {
		t.Errorf("a good passphrase: %v", err)
	}
	if err := Check("password1234", Context{}); !errors.Is(err, ErrCommon) {
		t.Errorf("a common password: %v", err)
	}
}

// BenchmarkCheckWorstCase measures a check of the longest password the policy allows, the
// list already read: the route should answer in milliseconds, not the argon2id hash's tens.
// (make bench-go runs it; speed is measured here, never asserted in a test.)
func BenchmarkCheckWorstCase(b *testing.B) {
	_ = Check("warm up the list once", acme)
	worst := strings.Repeat("1", 40) + strings.Repeat("a", 48) + strings.Repeat("!", 40)
	for b.Loop() {
		_ = Check(worst, acme)
	}
}
