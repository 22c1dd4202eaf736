package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// OutboxEvent is one lifecycle event of the outbox (migration 016): written by the control
// plane's triggers in the transaction of the transition, sent by the publisher
// (internal/outbox) after commit. Data holds ids and statuses only.
type OutboxEvent struct {
	ID          uuid.UUID // the CloudEvents id, which consumers deduplicate on
	Seq         int64
	Type        string
	Subject     uuid.UUID // the tenant, or the upgrade run
	Time        time.Time
	Data        json.RawMessage
	RequestID   string // the API request that made the transition, or ""
	PublishedAt *time.Time
}

const outboxColumns = `id, seq, type, subject, time, data, coalesce(request_id, ''), published_at`

func scanOutboxEvent(row pgx.CollectableRow) (OutboxEvent, error) {
	var e OutboxEvent
	err := row.Scan(&e.ID, &e.Seq, &e.Type, &e.Subject, &e.Time, &e.Data, &e.RequestID, &e.PublishedAt)
	return e, err
}

// ClaimEvents locks, for the rest of the transaction, up to limit unpublished events after
// seq after, in seq order. Events another transaction holds are skipped, not waited for:
// two publishers never send the same claim, and neither waits on the other.
func (tx *Tx) ClaimEvents(ctx context.Context, after int64, limit int) ([]OutboxEvent, error) {
	rows, err := tx.Query(ctx, `SELECT `+outboxColumns+` FROM event_outbox
		WHERE published_at IS NULL AND seq > $1 ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED`, after, limit)
	if err != nil {
		return nil, fault.FromDB("claim events", err)
	}
	evs, err := pgx.CollectRows(rows, scanOutboxEvent)
	return evs, fault.FromDB("claim events", err)
}

// MarkPublished records that the bus accepted the events ids.
func (tx *Tx) MarkPublished(ctx context.Context, ids []uuid.UUID) error {
	_, err := tx.Exec(ctx, `UPDATE event_outbox SET published_at = now() WHERE id = ANY($1) AND published_at IS NULL`, ids)
	return fault.FromDB("mark events published", err)
}

// RecentEvents lists the newest limit events of the outbox, published or not (make dev's
// /dev/events page).
func (s *Store) RecentEvents(ctx context.Context, limit int) ([]OutboxEvent, error) {
	rows, err := s.db.Query(ctx, `SELECT `+outboxColumns+` FROM event_outbox ORDER BY seq DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fault.FromDB("list events", err)
	}
	evs, err := pgx.CollectRows(rows, scanOutboxEvent)
	return evs, fault.FromDB("list events", err)
}
