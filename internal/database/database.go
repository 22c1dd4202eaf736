// Package database opens the PostgreSQL connection pool every function shares per container.
package database

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultMaxConns suits a Lambda container: it serves one invocation at a time, and a
// second connection lets a step write its failure log while the first is being torn down.
const DefaultMaxConns = 2

// ProxyQueryExecMode is pgx's default_query_exec_mode for sessions through RDS Proxy:
// statements are described through the unnamed statement and never prepared by name (a
// named prepared statement pins the client's session to one database connection), and a
// query still takes one round trip once its description is cached.
const ProxyQueryExecMode = "cache_describe"

// Credentials returns the user and password for the next new connection: the seam for the
// Secrets Manager loader. refresh is true when the previous connection attempt did not
// succeed, which is how a rotated password shows (authentication fails): the source should
// then bypass its cache.
type Credentials func(ctx context.Context, refresh bool) (user, password string, err error)

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
	// User, when set and Credentials is not, connects as this user instead of the DSN's,
	// with the DSN's password: a developer machine's database users, which its server
	// trusts or which were given that password (devstack.LocalPasswords); deployed, the
	// users log in with IAM tokens, through Credentials.
	User string
	// MaxConnUses retires a connection after it has been handed out this many times;
	// 0 means DefaultMaxConnUses, negative never.
	MaxConnUses int
}

// DefaultMaxConnUses bounds what one server backend accumulates. A backend caches the
// catalog entries of every relation it touches and never frees them (about 38 KB per
// tenant schema), and the steps touch a new tenant's schema with every execution, so a
// warm container's connection would grow without bound. A step takes two to three
// connections from the pool, so 1,000 uses is a few hundred tenants, tens of MB at most;
// the reconnect it costs is paid once per thousand uses.
const DefaultMaxConnUses = 1000

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
	retireAfterUses(pc, cmp.Or(cfg.MaxConnUses, DefaultMaxConnUses))
	if cfg.User != "" && cfg.Credentials == nil {
		pc.ConnConfig.User = cfg.User
	}
	if cfg.Credentials != nil {
		// pgxpool reports a failed connect to the caller, not to a hook, so a failure is
		// inferred: a connect that began and never reached AfterConnect. Two connects in
		// flight at once can cause one needless refresh, which is harmless.
		var mu sync.Mutex
		unfinished := 0
		creds := cfg.Credentials
		pc.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			mu.Lock()
			refresh := unfinished > 0
			unfinished++
			mu.Unlock()
			user, password, err := creds(ctx, refresh)
			if err != nil {
				return fmt.Errorf("database credentials: %w", err)
			}
			cc.User, cc.Password = user, password
			return nil
		}
		pc.AfterConnect = func(context.Context, *pgx.Conn) error {
			mu.Lock()
			unfinished = 0
			mu.Unlock()
			return nil
		}
	}
	return pgxpool.NewWithConfig(ctx, pc)
}

// retireAfterUses makes the pool close a connection on its uses'th release instead of
// keeping it (pgxpool's MaxConnLifetime counts time, which does not bound what a busy
// connection caches). uses < 0 leaves the pool as it is.
func retireAfterUses(pc *pgxpool.Config, uses int) {
	if uses < 0 {
		return
	}
	var mu sync.Mutex
	count := map[*pgx.Conn]int{}
	pc.AfterRelease = func(c *pgx.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		count[c]++
		return count[c] < uses
	}
	pc.BeforeClose = func(c *pgx.Conn) {
		mu.Lock()
		delete(count, c)
		mu.Unlock()
	}
}
