// Package database opens the PostgreSQL connection pool every function shares per container.
package database

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultMaxConns suits a Lambda container: it serves one invocation at a time, and a
// second connection lets a step write its failure log while the first is being torn down.
const DefaultMaxConns = 2

// Credentials returns the user and password for the next new connection. It is the seam
// for a Secrets Manager loader: called before each connect, so a rotated secret is picked
// up by the next connection without restarting the container.
type Credentials func(ctx context.Context) (user, password string, err error)

// Config says how to reach PostgreSQL.
type Config struct {
	// DSN is a postgres:// URL or key=value string. TLS settings (sslmode, sslrootcert …)
	// and pool settings (pool_max_conns …) in it are honoured as pgx documents them.
	DSN string
	// MaxConns overrides the pool size when positive; otherwise DefaultMaxConns applies
	// unless the DSN sets pool_max_conns.
	MaxConns int32
	// Credentials, when set, supplies user and password per connection.
	Credentials Credentials
}

// Open builds the pool without connecting: the first query connects, so a database that is
// briefly unreachable at cold start surfaces as a retryable step error, not a failed init.
func Open(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// The parse error can echo the DSN, password included: keep it out of the message.
		return nil, fmt.Errorf("database: invalid connection string")
	}
	switch {
	case cfg.MaxConns > 0:
		pc.MaxConns = cfg.MaxConns
	case !strings.Contains(cfg.DSN, "pool_max_conns"):
		pc.MaxConns = DefaultMaxConns
	}
	// A frozen Lambda container keeps sockets that the server or a NAT may have dropped;
	// checking idle connections before use avoids failing the first query after a thaw.
	pc.MaxConnIdleTime = 5 * time.Minute
	pc.ConnConfig.RuntimeParams["application_name"] = "tenant-provisioning"
	if cfg.Credentials != nil {
		creds := cfg.Credentials
		pc.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			user, password, err := creds(ctx)
			if err != nil {
				return fmt.Errorf("database credentials: %w", err)
			}
			cc.User, cc.Password = user, password
			return nil
		}
	}
	return pgxpool.NewWithConfig(ctx, pc)
}
