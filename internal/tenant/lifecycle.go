package tenant

import "slices"

// lifecycle is the one table of tenant status transitions: for each status, the statuses a
// tenant may move to from it. The store's status UPDATEs only match rows in a status the
// table allows, and the steps check it before doing any work, so neither can drift.
//
//	PENDING      reserved by the API; claimed by one execution, or failed by its rollback
//	PROVISIONING claimed by one execution; ACTIVE at the end, or FAILED by its rollback
//	ACTIVE       provisioned; an admin may archive it
//	FAILED       rolled back; an admin may retry it (a new reservation: PENDING again, for the
//	             execution <id>-r<N>) or archive it
//	ARCHIVED     soft-deleted; final
var lifecycle = map[Status][]Status{
	StatusPending:      {StatusProvisioning, StatusFailed},
	StatusProvisioning: {StatusActive, StatusFailed},
	StatusActive:       {StatusArchived},
	StatusFailed:       {StatusPending, StatusArchived},
	StatusArchived:     nil,
}

// CanBecome reports whether a tenant in status s may move to next. Staying in s is always
// allowed: every step is idempotent, and a re-run sets the status it already has.
func (s Status) CanBecome(next Status) bool {
	return s == next && s.Valid() || slices.Contains(lifecycle[s], next)
}

// Sources lists the statuses that may become to (to itself among them), in declaration
// order: the WHERE of an UPDATE that moves a tenant to to.
func Sources(to Status) []Status {
	var out []Status
	for _, s := range statuses {
		if s.CanBecome(to) {
			out = append(out, s)
		}
	}
	return out
}
