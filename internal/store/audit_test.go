package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/store"
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
