package tenantdb

import (
	"regexp"
	"testing"
)

func TestUnusablePasswordHash(t *testing.T) {
	t.Parallel()
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	a, err := UnusablePasswordHash()
	if err != nil {
		t.Fatal(err)
	}
	b, err := UnusablePasswordHash()
	if err != nil {
		t.Fatal(err)
	}
	if !phc.MatchString(a) {
		t.Errorf("not a PHC argon2id string at OWASP parameters: %s", a)
	}
	if a == b {
		t.Error("two hashes are equal: the secret or the salt is not random")
	}
}
