package testdb

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/database"
)

type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// Without PostgreSQL the integration tests must fail, saying what is missing and how to
// start it, never skip.
func TestUnreachableServerFailsClearly(t *testing.T) {
	t.Parallel()
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		create(context.Background(), rec, "postgres://postgres:topsecret@127.0.0.1:1/postgres?connect_timeout=2")
	}()
	<-done
	for _, want := range []string{"PostgreSQL is not reachable at", "127.0.0.1:1", "pg_ctlcluster", "TEST_DATABASE_URL"} {
		if !strings.Contains(rec.msg, want) {
			t.Errorf("message lacks %q:\n%s", want, rec.msg)
		}
	}
	if strings.Contains(rec.msg, "topsecret") {
		t.Errorf("message shows the password:\n%s", rec.msg)
	}
}

// SessionState finds each kind of state that would pin a session behind RDS Proxy, and
// none after the statements a function runs in the mode it uses through the proxy.
func TestSessionState(t *testing.T) {
	t.Parallel()
	_, url := NewWithURL(t)
	ctx := context.Background()
	cases := []struct {
		name string
		mode string // default_query_exec_mode in the DSN; "" is pgx's default
		run  func(ctx context.Context, c *pgxpool.Conn) error
		want string // "" when nothing may be found
	}{
		{name: "named statements by default", run: queryWithArgument, want: "prepared statement stmtcache_"},
		{name: "none in the proxy mode", mode: database.ProxyQueryExecMode, run: func(ctx context.Context, c *pgxpool.Conn) error {
			if err := queryWithArgument(ctx, c); err != nil {
				return err
			}
			b := &pgx.Batch{}
			b.Queue("SELECT set_config('lock_timeout', $1, true)", "100") // for the transaction only
			b.Queue("SELECT $1::int + 1", 1)
			return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
		}},
		{name: "a session setting", mode: database.ProxyQueryExecMode, run: exec("SET statement_timeout = 1000"), want: "session setting statement_timeout"},
		{name: "an advisory lock", mode: database.ProxyQueryExecMode, run: exec("SELECT pg_advisory_lock(4242)"), want: "advisory lock 4242"},
		{name: "a temporary table", mode: database.ProxyQueryExecMode, run: exec("CREATE TEMP TABLE scratch (x int)"), want: "temporary table scratch"},
		{name: "a LISTEN", mode: database.ProxyQueryExecMode, run: exec("LISTEN tenants"), want: "listening on tenants"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dsn := url
			if c.mode != "" {
				dsn += "&default_query_exec_mode=" + c.mode
			}
			pool, err := database.Open(ctx, database.Config{DSN: dsn, MaxConns: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			conn, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = c.run(ctx, conn)
			conn.Release()
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(SessionState(ctx, t, pool), "; ")
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Errorf("session state %q, want %q", got, c.want)
			}
		})
	}
}

func queryWithArgument(ctx context.Context, c *pgxpool.Conn) error {
	var n int
	return c.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = $1", "pg_class").Scan(&n)
}

func exec(sql string) func(context.Context, *pgxpool.Conn) error {
	return func(ctx context.Context, c *pgxpool.Conn) error {
		_, err := c.Exec(ctx, sql)
		return err
	}
}
