package tenant

import (
	"slices"
	"testing"
)

// The table's shape, not a copy of it: every status is reachable from PENDING, ARCHIVED
// is the only end, ACTIVE is reached only through PROVISIONING, and only a FAILED tenant
// comes back to PENDING (an admin's retry); an ACTIVE one never does.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	reached := map[Status]bool{StatusPending: true}
	for queue := []Status{StatusPending}; len(queue) > 0; queue = queue[1:] {
		for _, next := range lifecycle[queue[0]] {
			if !reached[next] {
				reached[next] = true
				queue = append(queue, next)
			}
		}
	}
	for _, s := range statuses {
		if !reached[s] {
			t.Errorf("%s cannot be reached from PENDING", s)
		}
		if (len(lifecycle[s]) == 0) != (s == StatusArchived) {
			t.Errorf("%s: moves to %v; only ARCHIVED is final", s, lifecycle[s])
		}
		if _, ok := lifecycle[s]; !ok {
			t.Errorf("%s has no entry in the lifecycle table", s)
		}
	}
	if got := Sources(StatusActive); !slices.Equal(got, []Status{StatusProvisioning, StatusActive}) {
		t.Errorf("ACTIVE is reached from %v, want PROVISIONING (or ACTIVE again)", got)
	}
	if got := Sources(StatusPending); !slices.Equal(got, []Status{StatusPending, StatusFailed}) {
		t.Errorf("PENDING is reached from %v; want a reservation, or a retry of a FAILED tenant", got)
	}
	cases := []struct {
		from, to Status
		want     bool
	}{
		{StatusPending, StatusProvisioning, true},
		{StatusProvisioning, StatusProvisioning, true},
		{StatusFailed, StatusFailed, true},
		{StatusPending, StatusActive, false},
		{StatusActive, StatusFailed, false},
		{StatusFailed, StatusPending, true},
		{StatusActive, StatusPending, false},
		{StatusArchived, StatusActive, false},
		{StatusProvisioning, StatusArchived, false},
		{Status("BOGUS"), Status("BOGUS"), false},
	}
	for _, c := range cases {
		if got := c.from.CanBecome(c.to); got != c.want {
			t.Errorf("%s.CanBecome(%s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}
