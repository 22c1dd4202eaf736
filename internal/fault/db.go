package fault

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// FromDB classifies an error from pgx. Already-classified errors pass through unchanged.
// The message keeps only the SQLSTATE: PostgreSQL's own message and detail can quote row
// values (a duplicate key's name, say), which must not reach execution history.
func FromDB(op string, err error) error {
	if err == nil {
		return nil
	}
	if c := classified(err); c != nil {
		return c
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &NotFoundError{Op: op, Msg: "not found"}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fromSQLState(op, pgErr)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &TransientError{Op: op, Msg: "database call timed out", Err: err}
	}
	if errors.Is(err, context.Canceled) {
		// Lambda cancels the context when the invocation is being torn down; the retry
		// policy decides whether another attempt follows.
		return &TransientError{Op: op, Msg: "database call cancelled", Err: err}
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return &TransientError{Op: op, Msg: "database unavailable", Err: err}
	}
	if strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "closed pool") {
		return &TransientError{Op: op, Msg: "database connection closed", Err: err}
	}
	return &InvariantError{Op: op, Msg: "unexpected database error", Err: err}
}

func fromSQLState(op string, pgErr *pgconn.PgError) error {
	code := pgErr.Code
	msg := "database error (SQLSTATE " + code + ")"
	switch {
	case code == "40001", code == "40P01": // serialization_failure, deadlock_detected
		return &TransientError{Op: op, Msg: msg, Err: pgErr}
	case code == "55P03", code == "57014": // lock_not_available, query_canceled (statement_timeout)
		return &TransientError{Op: op, Msg: msg, Err: pgErr}
	case strings.HasPrefix(code, "08"), // connection exception
		strings.HasPrefix(code, "53"),                     // insufficient resources (too many connections, out of memory, disk full)
		code == "57P01", code == "57P02", code == "57P03", // admin/crash shutdown, cannot connect now
		code == "58000", code == "58030": // system_error, io_error
		return &TransientError{Op: op, Msg: msg, Err: pgErr}
	case code == "23505": // unique_violation
		return &ConflictError{Op: op, Msg: "already exists (SQLSTATE 23505)", Err: pgErr}
	case code == "28000", code == "28P01": // invalid authorization / password: rotation in progress
		return &TransientError{Op: op, Msg: msg, Err: pgErr}
	default:
		return &InvariantError{Op: op, Msg: msg, Err: pgErr}
	}
}
