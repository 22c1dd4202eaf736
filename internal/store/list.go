package store

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// Page sizes of List.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
)

// ListQuery selects one page of tenants, newest first.
type ListQuery struct {
	Status tenant.Status // "" lists every status
	Limit  int           // 0 means DefaultListLimit
	// Cursor is "" for the first page, else the NextCursor of a page of the same query.
	Cursor string
}

// Summary is a tenant as a listing shows it. It has no admin personal data: the list query
// does not even read those columns.
type Summary struct {
	ID            uuid.UUID
	Name          string
	Status        tenant.Status
	SchemaName    string // empty until an execution claims the tenant
	SchemaVersion *int32 // nil until a migration records it
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Page is one page of List.
type Page struct {
	// Total counts the tenants matching the status filter, in the same snapshot as Tenants,
	// up to exactCountCap; beyond it, or where the planner expects more than countBelow, it
	// is the planner's estimate and TotalEstimated is set.
	Total          int64
	TotalEstimated bool
	Tenants        []Summary
	NextCursor     string // "" on the last page
}

// List returns a page of tenants ordered by (created_at, id) descending. Pages are cut by
// keyset, never by OFFSET: a row's sort key never changes, so every tenant that existed when
// the first page was read comes back exactly once however many are inserted meanwhile (an
// OFFSET would shift under each insert, repeating rows). Bad limits, statuses and cursors are
// *fault.ValidationError.
func (s *Store) List(ctx context.Context, q ListQuery) (Page, error) {
	const op = "list tenants"
	if q.Limit == 0 {
		q.Limit = DefaultListLimit
	}
	if q.Limit < 1 || q.Limit > MaxListLimit {
		return Page{}, invalid(op, "limit", fmt.Sprintf("must be an integer from 1 to %d", MaxListLimit))
	}
	if q.Status != "" && !q.Status.Valid() {
		return Page{}, invalid(op, "status", "must be one of PENDING, PROVISIONING, ACTIVE, FAILED, ARCHIVED")
	}
	var after *cursor
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, q.Status)
		if err != nil {
			return Page{}, err
		}
		after = &c
	}

	// The filter and keyset are added as SQL only when used, rather than as "$1 = '' OR …",
	// so that a cached generic plan can still use the (status, created_at, id) indexes.
	args := []any{q.Limit + 1}
	filter := ""
	if q.Status != "" {
		args = append(args, string(q.Status))
		filter = fmt.Sprintf(" AND status = $%d", len(args))
	}
	keyset := ""
	if after != nil {
		args = append(args, after.createdAt, after.id)
		keyset = fmt.Sprintf(" AND (created_at, id) < ($%d, $%d)", len(args)-1, len(args))
	}
	args = append(args, string(q.Status))
	estimateOf := fmt.Sprintf("$%d", len(args))
	// One statement, one round trip: the count and the page come from one snapshot, and the
	// outer join keeps the count when the page is empty. The planner's estimate comes first,
	// in a one-row subquery so that it runs once: where it expects far more tenants than the
	// cap, nothing is counted at all; else they are counted up to the cap, and the estimate
	// stands in only past it.
	rows, err := s.db.Query(ctx, `
		WITH page AS (
			SELECT id, name, status, schema_name, schema_version, created_at, updated_at FROM tenants
			WHERE true`+filter+keyset+`
			ORDER BY created_at DESC, id DESC
			LIMIT $1
		)
		SELECT total.n, total.estimated, page.id, page.name, page.status, coalesce(page.schema_name, ''), page.schema_version,
		       page.created_at, page.updated_at
		FROM (
			SELECT CASE WHEN x.counted IS NULL OR x.counted > `+capSQL+` THEN greatest(x.estimate, `+capSQL+` + 1) ELSE x.counted END AS n,
			       x.counted IS NULL OR x.counted > `+capSQL+` AS estimated
			FROM (
				SELECT e.n AS estimate, CASE WHEN e.n > `+countBelowSQL+` THEN NULL ELSE (
					SELECT count(*) FROM (SELECT 1 FROM tenants WHERE true`+filter+` LIMIT `+capSQL+` + 1) AS capped
				) END AS counted
				FROM (SELECT tenant_count_estimate(`+estimateOf+`) AS n) AS e
			) AS x
		) AS total
		LEFT JOIN page ON true
		ORDER BY page.created_at DESC, page.id DESC`, args...)
	if err != nil {
		return Page{}, fault.FromDB(op, err)
	}
	defer rows.Close()
	var page Page
	for rows.Next() {
		var (
			id                 *uuid.UUID
			name, status       *string
			schema             string
			version            *int32
			created, updatedAt *time.Time
		)
		if err := rows.Scan(&page.Total, &page.TotalEstimated, &id, &name, &status, &schema, &version, &created, &updatedAt); err != nil {
			return Page{}, fault.FromDB(op, err)
		}
		if id == nil { // the empty page's lone row, carrying only the count
			continue
		}
		if len(page.Tenants) == q.Limit { // the extra row: there is a next page
			last := page.Tenants[q.Limit-1]
			page.NextCursor = encodeCursor(q.Status, cursor{createdAt: last.CreatedAt, id: last.ID})
			break
		}
		page.Tenants = append(page.Tenants, Summary{ID: *id, Name: *name, Status: tenant.Status(*status),
			SchemaName: schema, SchemaVersion: version, CreatedAt: *created, UpdatedAt: *updatedAt})
	}
	if err := rows.Err(); err != nil {
		return Page{}, fault.FromDB(op, err)
	}
	return page, nil
}

// exactCountCap bounds the exact count behind a page's total: counting every matching row
// costs milliseconds per request at 100,000 tenants, while a page costs a fraction of one.
// Past the cap, the total is the planner's estimate (tenant_count_estimate, a control-plane
// migration), never below the cap the exact count just passed, and flagged as an estimate.
const exactCountCap = 1000

// countBelow is the planner's estimate past which nothing is counted: the cap would be
// passed anyway, unless the statistics are off twofold (autovacuum re-analyses a table
// after a tenth of its rows change, so they are rarely off by more than that).
const countBelow = 2 * exactCountCap

var (
	capSQL        = fmt.Sprint(exactCountCap)
	countBelowSQL = fmt.Sprint(countBelow)
)

// cursor is the keyset position after the last row of a page.
type cursor struct {
	createdAt time.Time
	id        uuid.UUID
}

const (
	cursorVersion = 1
	cursorLen     = 1 + 1 + 8 + 16 // version, filter, created_at in µs, id
)

// cursorFilters numbers the status filters inside cursors. Append only: clients hold
// cursors with these positions in them.
var cursorFilters = []tenant.Status{"", tenant.StatusPending, tenant.StatusProvisioning,
	tenant.StatusActive, tenant.StatusFailed, tenant.StatusArchived}

var cursorEncoding = base64.RawURLEncoding.Strict()

// encodeCursor binds the position to the status filter, so that a cursor replayed with
// another filter is refused instead of silently starting that listing part-way through.
// PostgreSQL keeps microseconds, so UnixMicro round-trips created_at exactly.
func encodeCursor(status tenant.Status, c cursor) string {
	b := make([]byte, 0, cursorLen)
	b = append(b, cursorVersion, byte(slices.Index(cursorFilters, status)))
	b = binary.BigEndian.AppendUint64(b, uint64(c.createdAt.UnixMicro()))
	b = append(b, c.id[:]...)
	return cursorEncoding.EncodeToString(b)
}

func decodeCursor(s string, status tenant.Status) (cursor, error) {
	const op = "list tenants"
	b, err := cursorEncoding.DecodeString(s)
	if err != nil || len(b) != cursorLen || b[0] != cursorVersion || int(b[1]) >= len(cursorFilters) {
		return cursor{}, invalid(op, "cursor", "is not a cursor this listing issued")
	}
	if cursorFilters[b[1]] != status {
		return cursor{}, invalid(op, "cursor", "was issued for a different status filter")
	}
	c := cursor{createdAt: time.UnixMicro(int64(binary.BigEndian.Uint64(b[2:10])))}
	copy(c.id[:], b[10:])
	return c, nil
}

// FailReservation marks a tenant FAILED with reason if it is still PENDING, which frees its
// name, and reports whether it did. It is for a reservation whose execution could not be
// started. A tenant that is no longer PENDING was claimed by an execution (the start went
// through after all), and the execution owns it from then on.
func (s *Store) FailReservation(ctx context.Context, id uuid.UUID, reason string) (bool, error) {
	var tag pgconn.CommandTag
	err := s.audited(ctx, func(db DB) (err error) {
		tag, err = db.Exec(ctx, `
		UPDATE tenants SET status = $3, provisioning_error = $2, completed_at = now(), updated_at = now()
		WHERE id = $1 AND status = $4`, id, Truncate(reason, MaxErrorLen), string(tenant.StatusFailed), string(tenant.StatusPending))
		return err
	})
	if err != nil {
		return false, fault.FromDB("fail reservation", err)
	}
	return tag.RowsAffected() == 1, nil
}

func invalid(op, field, msg string) error {
	return &fault.ValidationError{Op: op, Fields: []fault.FieldError{{Field: field, Message: msg}}}
}
