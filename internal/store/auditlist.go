package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Page sizes of ListAudit.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 200
)

// The shapes audit_records' checks (migration 011) allow; a filter outside them matches
// nothing, so it is refused as a mistake instead.
var (
	actorPattern  = regexp.MustCompile(`^(admin|system|user):`)
	actionPattern = regexp.MustCompile(`^[a-z]+(\.[a-z_]+)+$`)
)

// Limits of the filters, as audit_records' checks bound the columns.
const (
	maxActorLen  = 512
	maxActionLen = 128
)

// AuditQuery selects one page of the audit trail, newest first. Every filter is optional;
// those set all apply.
type AuditQuery struct {
	TenantID *uuid.UUID
	Actor    string // exactly: admin:<issuer>#<subject>, system:<function>, user:<id>
	Action   string // exactly: tenant.create, tenant.archived, …
	// From and To bound the records' time, from inclusive, to exclusive; zero is unbounded.
	From, To time.Time
	Limit    int // 0 means DefaultAuditLimit
	// Cursor is "" for the first page, else the NextCursor of a page of the same query.
	Cursor string
}

// AuditRecord is one record of the trail as the list shows it: ids, statuses and the
// request's facts, never personal data (the trail holds none).
type AuditRecord struct {
	ID           int64
	At           time.Time
	Actor        string
	Action       string
	Outcome      string
	Problem      string
	TenantID     *uuid.UUID
	RunID        *uuid.UUID
	RequestID    string
	SourceIP     string
	UserAgent    string
	ExecutionArn string
	Details      json.RawMessage
}

// AuditPage is one page of ListAudit.
type AuditPage struct {
	Records    []AuditRecord
	NextCursor string // "" on the last page
}

// ListAudit returns a page of the audit trail ordered by (at, id) descending: newest
// first, the record's id breaking ties in time. Pages are cut by keyset, as List's are: a
// record never changes (the trail is append-only), so every record that existed when the
// first page was read comes back exactly once however many are appended meanwhile.
//
// The order is by time rather than by id alone so that each filter, and each filter with a
// time range, is one range of an index read in order (011's (at, id), 015's
// (actor, at, id), (action, at, id) and (actor, action, at, id)); a time range over an
// id order would read every
// record after the range's end to find its first. A tenant's records are few: they are read
// through 011's tenant index and sorted. Bad filters, limits and cursors are
// *fault.ValidationError.
func (s *Store) ListAudit(ctx context.Context, q AuditQuery) (AuditPage, error) {
	const op = "list audit records"
	if err := q.validate(); err != nil {
		return AuditPage{}, err
	}
	if q.Limit == 0 {
		q.Limit = DefaultAuditLimit
	}
	var after *auditCursor
	if q.Cursor != "" {
		c, err := decodeAuditCursor(q.Cursor, q.filterKey())
		if err != nil {
			return AuditPage{}, err
		}
		after = &c
	}

	// Only the filters in use become SQL, as List's do, so that a prepared statement's
	// generic plan still picks the filter's index.
	args := []any{q.Limit + 1}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	var where []string
	if q.TenantID != nil {
		where = append(where, "tenant_id = "+arg(*q.TenantID))
	}
	if q.Actor != "" {
		where = append(where, "actor = "+arg(q.Actor))
	}
	if q.Action != "" {
		where = append(where, "action = "+arg(q.Action))
	}
	if !q.From.IsZero() {
		where = append(where, "at >= "+arg(q.From))
	}
	if !q.To.IsZero() {
		where = append(where, "at < "+arg(q.To))
	}
	if after != nil {
		where = append(where, "(at, id) < ("+arg(after.at)+", "+arg(after.id)+")")
	}
	sql := `SELECT id, at, actor, action, outcome, coalesce(problem, ''), tenant_id, run_id, coalesce(request_id, ''),
		coalesce(host(source_ip), ''), coalesce(user_agent, ''), coalesce(execution_arn, ''), details
		FROM audit_records`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY at DESC, id DESC LIMIT $1"
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return AuditPage{}, fault.FromDB(op, err)
	}
	defer rows.Close()
	var page AuditPage
	for rows.Next() {
		var r AuditRecord
		if err := rows.Scan(&r.ID, &r.At, &r.Actor, &r.Action, &r.Outcome, &r.Problem, &r.TenantID, &r.RunID, &r.RequestID,
			&r.SourceIP, &r.UserAgent, &r.ExecutionArn, &r.Details); err != nil {
			return AuditPage{}, fault.FromDB(op, err)
		}
		if len(page.Records) == q.Limit { // the extra row: there is a next page
			last := page.Records[q.Limit-1]
			page.NextCursor = encodeAuditCursor(q.filterKey(), auditCursor{at: last.At, id: last.ID})
			break
		}
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return AuditPage{}, fault.FromDB(op, err)
	}
	return page, nil
}

func (q AuditQuery) validate() error {
	var errs []fault.FieldError
	bad := func(field, msg string) { errs = append(errs, fault.FieldError{Field: field, Message: msg}) }
	if q.Limit != 0 && (q.Limit < 1 || q.Limit > MaxAuditLimit) {
		bad("limit", fmt.Sprintf("must be an integer from 1 to %d", MaxAuditLimit))
	}
	if q.Actor != "" && (!actorPattern.MatchString(q.Actor) || len(q.Actor) > maxActorLen) {
		bad("actor", "must be an actor such as admin:<issuer>#<subject>, system:<function> or user:<id>")
	}
	if q.Action != "" && (!actionPattern.MatchString(q.Action) || len(q.Action) > maxActionLen) {
		bad("action", "must be an action such as tenant.create or tenant.archived")
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		bad("to", "must be after from")
	}
	if errs != nil {
		return &fault.ValidationError{Op: "list audit records", Fields: errs}
	}
	return nil
}

// filterKey names the query's filters, for a cursor to be bound to them.
func (q AuditQuery) filterKey() [8]byte {
	h := sha256.New()
	tenant := ""
	if q.TenantID != nil {
		tenant = q.TenantID.String()
	}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return fmt.Sprint(t.UnixMicro())
	}
	// NUL cannot occur in any of them (actor and action are checked; the rest are ids
	// and numbers), so the parts cannot run together.
	for _, part := range []string{tenant, q.Actor, q.Action, stamp(q.From), stamp(q.To)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	var key [8]byte
	copy(key[:], h.Sum(nil))
	return key
}

// auditCursor is the keyset position after the last record of a page.
type auditCursor struct {
	at time.Time
	id int64
}

const (
	auditCursorVersion = 1
	auditCursorLen     = 1 + 8 + 8 + 8 // version, filters' key, at in µs, id
)

// encodeAuditCursor binds the position to the filters, so that a cursor replayed with other
// filters is refused instead of silently starting that listing part-way through.
// PostgreSQL keeps microseconds, so UnixMicro round-trips at exactly.
func encodeAuditCursor(key [8]byte, c auditCursor) string {
	b := make([]byte, 0, auditCursorLen)
	b = append(b, auditCursorVersion)
	b = append(b, key[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.at.UnixMicro()))
	b = binary.BigEndian.AppendUint64(b, uint64(c.id))
	return cursorEncoding.EncodeToString(b)
}

func decodeAuditCursor(s string, key [8]byte) (auditCursor, error) {
	const op = "list audit records"
	b, err := cursorEncoding.DecodeString(s)
	if err != nil || len(b) != auditCursorLen || b[0] != auditCursorVersion {
		return auditCursor{}, invalid(op, "cursor", "is not a cursor this listing issued")
	}
	if [8]byte(b[1:9]) != key {
		return auditCursor{}, invalid(op, "cursor", "was issued for different filters")
	}
	return auditCursor{
		at: time.UnixMicro(int64(binary.BigEndian.Uint64(b[9:17]))),
		id: int64(binary.BigEndian.Uint64(b[17:25])),
	}, nil
}

// ActorAt is who did something to a tenant, as the audit trail names them, and when.
type ActorAt struct {
	Actor string
	At    time.Time
}

// TenantTrail is what the trail says of a tenant's creation and archiving: nil where it
// holds no record, as for a tenant created or archived before the trail existed.
type TenantTrail struct {
	// CreatedBy is the actor of the accepted tenant.create request, else of the
	// tenant.reserved transition (a tenant reserved otherwise than by the route).
	CreatedBy  *ActorAt
	ArchivedBy *ActorAt // the tenant.archived transition's
}

// Trail reads who created and who archived the tenant id from the audit trail (011's
// tenant index finds the tenant's records); an unknown tenant has an empty trail.
func (s *Store) Trail(ctx context.Context, id uuid.UUID) (TenantTrail, error) {
	var (
		tr                      TenantTrail
		createdBy, archivedBy   *string
		createdAt, archivedAtTr *time.Time
	)
	err := s.db.QueryRow(ctx, `
		SELECT c.actor, c.at, a.actor, a.at
		FROM (SELECT $1::uuid AS id) AS t
		LEFT JOIN LATERAL (
			SELECT actor, at FROM audit_records
			WHERE tenant_id = t.id AND (action = 'tenant.create' AND outcome = 'accepted' OR action = 'tenant.reserved')
			ORDER BY action = 'tenant.create' DESC, id LIMIT 1
		) AS c ON true
		LEFT JOIN LATERAL (
			SELECT actor, at FROM audit_records
			WHERE tenant_id = t.id AND action = 'tenant.archived'
			ORDER BY id DESC LIMIT 1
		) AS a ON true`, id).Scan(&createdBy, &createdAt, &archivedBy, &archivedAtTr)
	if errors.Is(err, pgx.ErrNoRows) {
		return tr, nil
	}
	if err != nil {
		return tr, fault.FromDB("read tenant trail", err)
	}
	if createdBy != nil {
		tr.CreatedBy = &ActorAt{Actor: *createdBy, At: *createdAt}
	}
	if archivedBy != nil {
		tr.ArchivedBy = &ActorAt{Actor: *archivedBy, At: *archivedAtTr}
	}
	return tr, nil
}
