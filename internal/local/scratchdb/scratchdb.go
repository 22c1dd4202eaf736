// Package scratchdb creates a throw-away PostgreSQL database, and drops it again with the
// tenant roles created in it (roles are cluster-wide, so dropping the database alone would
// leave them behind). The tests (through internal/testkit/testdb) and the bench use it.
package scratchdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DefaultAdminURL is the machine's local PostgreSQL (trust authentication).
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL is the server scratch databases are created on: TEST_DATABASE_URL, or
// DefaultAdminURL. Its user may CREATE DATABASE and CREATE ROLE.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// ErrUnreachable is wrapped by Create's error when no server answers at the admin URL.
var ErrUnreachable = errors.New("PostgreSQL is not reachable")

// DB is one scratch database.
type DB struct {
	Name string // prefix_<12 hex digits>
	URL  string // the admin URL with the database's name
	// adminURL is the server's maintenance database, from which this one is dropped.
	adminURL string
}

// Create makes a new, empty database named prefix_<random> on the server at adminURL.
func Create(ctx context.Context, adminURL, prefix string) (*DB, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("scratchdb: the admin URL must be a postgres:// URL")
	}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("scratchdb: %w at %s: %w", ErrUnreachable, u.Redacted(), err)
	}
	defer admin.Close(ctx)
	name := prefix + "_" + RandomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("scratchdb: create database: %w", err)
	}
	u.Path = "/" + name
	return &DB{Name: name, URL: u.String(), adminURL: adminURL}, nil
}

// Drop removes the database, then the roles of the tenants it recorded (tenants.schema_name
// names each tenant's role) and extraRoles. A role's grants lived in the dropped database,
// so nothing holds it any more. Connections still open on the database are ended.
func (d *DB) Drop(ctx context.Context, extraRoles ...string) error {
	roles := slices.Clone(extraRoles)
	if conn, err := pgx.Connect(ctx, d.URL); err == nil {
		rows, err := conn.Query(ctx, `SELECT schema_name FROM tenants WHERE schema_name IS NOT NULL`)
		if err == nil { // a database that never had a control plane has no tenant roles
			more, _ := pgx.CollectRows(rows, pgx.RowTo[string])
			roles = append(roles, more...)
		}
		conn.Close(ctx)
	}
	admin, err := pgx.Connect(ctx, d.adminURL)
	if err != nil {
		return fmt.Errorf("scratchdb: drop %s: %w", d.Name, err)
	}
	defer admin.Close(ctx)
	var errs []error
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)"); err != nil {
		errs = append(errs, fmt.Errorf("scratchdb: drop database %s: %w", d.Name, err))
	}
	// In batches: the bench's scale phase leaves ten thousand roles, one round trip each is slow.
	for batch := range slices.Chunk(roles, 500) {
		idents := make([]string, len(batch))
		for i, r := range batch {
			idents[i] = pgx.Identifier{r}.Sanitize()
		}
		if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+strings.Join(idents, ", ")); err != nil {
			errs = append(errs, fmt.Errorf("scratchdb: drop %d roles: %w", len(batch), err))
		}
	}
	return errors.Join(errs...)
}

// RandomHex is n random bytes in hex, for names that must not collide between runs.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
