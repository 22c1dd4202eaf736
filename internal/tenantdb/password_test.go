package tenantdb

import (
	"regexp"
	"testing"
)

func TestPasswords(t *testing.T) {
	t.Parallel()
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	a, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	b, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !phc.MatchString(a) || a == b {
		t.Errorf("hashes %s and %s: want PHC argon2id at OWASP parameters, salted apart", a, b)
	}
	unusable, err := UnusablePassword()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := UnusablePassword()
	if !regexp.MustCompile(`^![A-Za-z0-9_-]{40}$`).MatchString(unusable) || unusable == other {
		t.Errorf("unusable markers %q, %q", unusable, other)
	}
	cases := []struct {
		name, hash, password string
		want                 bool
	}{
		{"the password", a, "correct horse battery staple", true},
		{"another password", a, "correct horse battery stapl", false},
		{"the empty password", a, "", false},
		{"the unusable marker", unusable, "", false},
		{"the marker as a password", unusable, unusable, false},
		{"a truncated hash", a[:len(a)-10], "correct horse battery staple", false},
		{"another algorithm", "$2b$12$abcdefghijklmnopqrstuu", "x", false},
		{"nothing", "", "", false},
	}
	for _, c := range cases {
		if got := VerifyPassword(c.hash, c.password); got != c.want {
			t.Errorf("%s: VerifyPassword = %v, want %v", c.name, got, c.want)
		}
	}
}
