package store

import (
	"context"
	"net/netip"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// ActivationAttempt counts one attempt of client at the public activation route and
// answers how long it must wait before its next: 0 while it has made no more than limit
// attempts in the current window (fixed windows of window, whole seconds). It goes through
// the control plane's activation_attempt function (access.sql), the one write the
// activation route's database user may make.
func (s *Store) ActivationAttempt(ctx context.Context, client netip.Addr, limit int, window time.Duration) (time.Duration, error) {
	var wait int
	err := s.db.QueryRow(ctx, `SELECT activation_attempt($1, $2, $3)`, client, limit, int(window/time.Second)).Scan(&wait)
	return time.Duration(wait) * time.Second, fault.FromDB("count activation attempt", err)
}
