package bench

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

// AdminURL is the server the bench creates its database on: TEST_DATABASE_URL, or
// DefaultAdminURL.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// scratchDB is the bench's own database, dropped with every role the run created.
type scratchDB struct {
	adminURL, name, url string
	// floorRoles are the roles the floor created; pipeline roles are read from tenants.
	floorRoles []string
}

func createDB(ctx context.Context, adminURL string) (*scratchDB, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, errors.New("bench: the admin URL must be a postgres:// URL")
	}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("bench: PostgreSQL is not reachable at %s: %w", u.Redacted(), err)
	}
	defer admin.Close(ctx)
	name := "bench_" + randomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("bench: create database: %w", err)
	}
	u.Path = "/" + name
	return &scratchDB{adminURL: adminURL, name: name, url: u.String()}, nil
}

// drop removes the database and the tenant roles (roles are cluster-wide; their grants
// lived in the dropped database, so nothing holds them any more).
func (d *scratchDB) drop(ctx context.Context) error {
	roles := append([]string(nil), d.floorRoles...)
	if conn, err := pgx.Connect(ctx, d.url); err == nil {
		rows, err := conn.Query(ctx, `SELECT schema_name FROM tenants WHERE schema_name IS NOT NULL`)
		if err == nil {
			more, _ := pgx.CollectRows(rows, pgx.RowTo[string])
			roles = append(roles, more...)
		}
		conn.Close(ctx)
	}
	admin, err := pgx.Connect(ctx, d.adminURL)
	if err != nil {
		return fmt.Errorf("bench: cleanup: %w", err)
	}
	defer admin.Close(ctx)
	var errs []error
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		errs = append(errs, fmt.Errorf("drop database %s: %w", d.name, err))
	}
	// In batches: the scale phase leaves ten thousand roles, one round trip each is slow.
	for batch := range slices.Chunk(roles, 500) {
		idents := make([]string, len(batch))
		for i, r := range batch {
			idents[i] = pgx.Identifier{r}.Sanitize()
		}
		if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+strings.Join(idents, ", ")); err != nil {
			errs = append(errs, fmt.Errorf("drop %d roles: %w", len(batch), err))
		}
	}
	return errors.Join(errs...)
}

func serverFacts(ctx context.Context, dbURL string) (version, fsync string, err error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", "", err
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return "", "", err
	}
	err = conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync)
	return version, fsync, err
}
