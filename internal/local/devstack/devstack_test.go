package devstack

import (
	"context"
	"net/url"
	"testing"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// On a server that asks for passwords (the compose PostgreSQL), the local functions log in
// as their users with DATABASE_URL's password: LocalPasswords gives it to every user, and
// a DATABASE_URL without a password (a trusting server) changes nothing.
func TestLocalPasswordsGiveTheUsersDatabaseURLsPassword(t *testing.T) {
	ctx := context.Background()
	pool, dbURL := testdb.NewWithURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "local-only")
	if err := LocalPasswords(ctx, pool, u.String()); err != nil {
		t.Fatal(err)
	}
	for _, user := range catalog.DBUsers() {
		var matches bool
		// SCRAM verifiers are salted, so the test sees that one is set, not its value.
		err := pool.QueryRow(ctx, `SELECT rolpassword IS NOT NULL AND rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = $1`, string(user)).Scan(&matches)
		if err != nil || !matches {
			t.Errorf("%s has no password (%v)", user, err)
		}
	}
}
