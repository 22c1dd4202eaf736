package store_test

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// appendRecords adds n records in their own transaction.
func appendRecords(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `INSERT INTO audit_records (actor, action, outcome, details)
		SELECT 'system:test', 'tenant.test', 'accepted', jsonb_build_object('n', i) FROM generate_series(1, $1) i`, n); err != nil {
		t.Fatal(err)
	}
}

// sealAll seals until want records are linked: a transaction still running anywhere in the
// cluster (another test's) holds the horizon back, and the seal waits for it as it should.
// It fails the test unless want are linked within the deadline.
func sealAll(t *testing.T, st *store.Store, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	total := 0
	for total < want && time.Now().Before(deadline) {
		n, err := st.SealAudit(context.Background(), want-total)
		if err != nil {
			t.Fatal(err)
		}
		if total += n; n == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if total != want {
		t.Fatalf("sealed %d records, want %d", total, want)
	}
}

// The chain links committed records in order, seal after seal, and leaves a record whose
// transaction is still running for a later seal; a whole chain verifies.
func TestTheAuditChainSealsCommittedRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	st := store.New(pool)
	appendRecords(t, pool, 5)
	sealAll(t, st, 3)
	// A record whose transaction has not committed is not sealed, nor any after it.
	open, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = open.Rollback(ctx) }()
	if _, err := open.Exec(ctx, `INSERT INTO audit_records (actor, action, outcome) VALUES ('system:test', 'tenant.late', 'accepted')`); err != nil {
		t.Fatal(err)
	}
	appendRecords(t, pool, 1)
	sealAll(t, st, 2) // the 2 left of the first batch
	if n, err := st.SealAudit(ctx, 100); err != nil || n != 0 {
		t.Fatalf("a seal while a transaction that wrote a record runs: %d, %v; want none, not those behind it", n, err)
	}
	if err := open.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	sealAll(t, st, 2) // the committed record and the one behind it
	if f, err := st.VerifyAudit(ctx); err != nil || f != nil {
		t.Fatalf("verify a whole chain: %+v, %v", f, err)
	}
}

// Tampering after the sealing is found, and the verifier names where: a record edited,
// one deleted, two moved (their contents swapped), a link removed. (The tampering is a
// superuser's, with the append-only triggers off: what the grants and triggers refuse to
// everyone else.)
func TestTheAuditChainNamesTampering(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, sql string
		seq       int64
		fault     string
	}{
		{"edited", `UPDATE audit_records SET outcome = 'refused' WHERE id = 4`, 4, "record altered or moved"},
		{"deleted", `DELETE FROM audit_records WHERE id = 5`, 5, "record deleted"},
		{"moved", `UPDATE audit_records SET details = CASE id WHEN 6 THEN '{"n": 7}'::jsonb ELSE '{"n": 6}'::jsonb END WHERE id IN (6, 7)`, 6, "record altered or moved"},
		{"link removed", `DELETE FROM audit_chain WHERE seq = 3`, 3, "link missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := testdb.New(t)
			st := store.New(pool)
			appendRecords(t, pool, 10)
			sealAll(t, st, 10)
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				for _, q := range []string{`ALTER TABLE audit_records DISABLE TRIGGER USER`, `ALTER TABLE audit_chain DISABLE TRIGGER USER`, c.sql} {
					if _, err := tx.Exec(ctx, q); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			f, err := st.VerifyAudit(ctx)
			if err != nil || f == nil || f.Seq != c.seq || f.Fault != c.fault {
				t.Errorf("verify: %+v, %v; want %q at link %d", f, err, c.fault, c.seq)
			}
		})
	}
}

// The actor and request go with BEGIN as literals (beginAs), and a user agent is the
// caller's to write: whatever it holds (quotes, backslashes, a statement, NUL, bytes that
// are not UTF-8) is recorded as text and runs nothing.
func TestTheActorIsRecordedAsGivenWhateverItHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.New(t)
	st := store.New(pool)
	for i, c := range []struct{ agent, want string }{
		{`curl/8.5.0`, `curl/8.5.0`},
		{`x', true); DROP TABLE tenants; --`, `x', true); DROP TABLE tenants; --`},
		{`back\slash \' \\' E'\x41'`, `back\slash \' \\' E'\x41'`},
		{"nul\x00 and \xff\xfe", "nul and \uFFFD"},
		{"üñí ☃ 漢字 $$ $tag$", "üñí ☃ 漢字 $$ $tag$"},
	} {
		actor := audit.Actor{Name: audit.Admin("https://issuer.example/'", "sub\\"+strconv.Itoa(i)), RequestID: "req'" + strconv.Itoa(i),
			SourceIP: netip.MustParseAddr("203.0.113.9"), UserAgent: c.agent}
		reg, err := tenant.Registration{Name: "Quoted Clinic " + strconv.Itoa(i), AdminEmail: "q@quoted.example", AdminFirstName: "Q", AdminLastName: "Q"}.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		tn, err := st.Reserve(audit.With(ctx, actor), reg)
		if err != nil {
			t.Fatalf("%q: %v", c.agent, err)
		}
		var name, request, agent string
		if err := pool.QueryRow(ctx, `SELECT actor, request_id, user_agent FROM audit_records WHERE tenant_id = $1 AND action = 'tenant.reserved'`, tn.ID).
			Scan(&name, &request, &agent); err != nil {
			t.Fatal(err)
		}
		if name != actor.Name || request != actor.RequestID || agent != c.want {
			t.Errorf("recorded %q %q %q, want %q %q %q", name, request, agent, actor.Name, actor.RequestID, c.want)
		}
	}
	var tenants int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&tenants); err != nil || tenants != 5 {
		t.Errorf("tenants: %d, %v", tenants, err)
	}
}

// An accepted request's echo is recorded like any record, its commit not waited for; the
// setting ends with its statement (the connection's next transaction waits again), and
// only an accepted outcome may be an echo.
func TestAnEchoIsRecordedAndLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url := testdb.NewWithURL(t)
	one, err := database.Open(ctx, database.Config{DSN: url, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	st := store.New(one)
	actx := audit.With(ctx, audit.Actor{Name: audit.Admin("https://issuer.example", "a"), RequestID: "req-echo"})
	if err := st.RecordAction(actx, store.Action{Action: "tenant.create", Outcome: store.ActionAccepted, Echo: true}); err != nil {
		t.Fatal(err)
	}
	var mode string
	var n int
	if err := one.QueryRow(ctx, `SELECT current_setting('synchronous_commit'), (SELECT count(*) FROM audit_records WHERE request_id = 'req-echo')`).Scan(&mode, &n); err != nil {
		t.Fatal(err)
	}
	if mode != "on" || n != 1 {
		t.Errorf("after an echo: synchronous_commit %q on the connection, %d records; want on, 1", mode, n)
	}
	err = st.RecordAction(actx, store.Action{Action: "tenant.archive", Outcome: store.ActionRefused, Problem: "still-provisioning", Echo: true})
	if _, ok := errors.AsType[*fault.InvariantError](err); !ok {
		t.Errorf("a refusal as an echo: %v, want an InvariantError", err)
	}
}
