package database

import (
	"context"
	"crypto/sha256"
	"encoding/binary"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// AdvisoryLocker hands out PostgreSQL session advisory locks: a lock every container that
// shares the database sees, released when its holder unlocks or its connection ends (a
// crashed or frozen Lambda never leaves it held for long).
type AdvisoryLocker struct {
	Pool *pgxpool.Pool
}

// Lock blocks until the lock named key is held or ctx ends. The lock occupies one pooled
// connection until unlock.
func (l AdvisoryLocker) Lock(ctx context.Context, key string) (func(), error) {
	const op = "acquire lock"
	sum := sha256.Sum256([]byte(key))
	id := int64(binary.BigEndian.Uint64(sum[:8]))
	conn, err := l.Pool.Acquire(ctx)
	if err != nil {
		return nil, fault.FromDB(op, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", id); err != nil {
		conn.Release()
		return nil, fault.FromDB(op, err)
	}
	return func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", id); err != nil {
			// Closing the session is the other way to let go of a session lock.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
		conn.Release()
	}, nil
}
