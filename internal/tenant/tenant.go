// Package tenant is the tenant domain: registration input, lifecycle statuses and the
// derivation of a tenant's database identifiers.
package tenant

import (
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Status is where a tenant is in its lifecycle.
type Status string

const (
	StatusPending      Status = "PENDING"
	StatusProvisioning Status = "PROVISIONING"
	StatusActive       Status = "ACTIVE"
	StatusFailed       Status = "FAILED"
	StatusArchived     Status = "ARCHIVED"
)

var statuses = []Status{StatusPending, StatusProvisioning, StatusActive, StatusFailed, StatusArchived}

// ParseStatus accepts any letter case. Folding is ASCII-only on purpose: Unicode folding
// would let "ſ" or "ı" smuggle in a status (strings.ToUpper("actıve") == "ACTIVE").
func ParseStatus(s string) (Status, error) {
	for _, st := range statuses {
		if asciiEqualFold(s, string(st)) {
			return st, nil
		}
	}
	return "", &fault.ValidationError{Op: "parse status", Fields: []fault.FieldError{{
		Field:   "status",
		Message: "must be one of PENDING, PROVISIONING, ACTIVE, FAILED, ARCHIVED",
	}}}
}

// Valid reports whether s is one of the declared statuses (exact spelling).
func (s Status) Valid() bool {
	for _, st := range statuses {
		if s == st {
			return true
		}
	}
	return false
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// NewID returns a UUIDv7: time-ordered keys keep the primary-key btree append-mostly and
// make keyset pagination by id follow creation order.
func NewID() (uuid.UUID, error) { return uuid.NewV7() }
