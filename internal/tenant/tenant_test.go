package tenant

import (
	"bytes"
	"errors"
	"testing"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

func TestParseStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Status
		ok   bool
	}{
		{"PENDING", StatusPending, true},
		{"provisioning", StatusProvisioning, true},
		{"Active", StatusActive, true},
		{"fAiLeD", StatusFailed, true},
		{"archived", StatusArchived, true},
		{"", "", false},
		{"DELETED", "", false},
		{" ACTIVE", "", false},
		{"act\u0131ve", "", false},       // dotless i upper-cases to I
		{"PROVI\u017fIONING", "", false}, // long s folds to S
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseStatus(tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("ParseStatus(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				if !got.Valid() {
					t.Fatalf("%q.Valid() = false", got)
				}
				return
			}
			var ve *fault.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "status" {
				t.Fatalf("ParseStatus(%q) error = %#v; want ValidationError on field status", tt.in, err)
			}
			if got != "" {
				t.Fatalf("ParseStatus(%q) = %q on error", tt.in, got)
			}
		})
	}
}

func TestStatusValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    Status
		want bool
	}{
		{StatusPending, true},
		{StatusProvisioning, true},
		{StatusActive, true},
		{StatusFailed, true},
		{StatusArchived, true},
		{"active", false},
		{"", false},
		{"DELETED", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.s), func(t *testing.T) {
			t.Parallel()
			if got := tt.s.Valid(); got != tt.want {
				t.Fatalf("%q.Valid() = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	prev, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		id, err := NewID()
		if err != nil {
			t.Fatal(err)
		}
		if id.Version() != 7 {
			t.Fatalf("version = %d, want 7", id.Version())
		}
		// Keyset pagination relies on ids sorting in creation order.
		if bytes.Compare(prev[:], id[:]) >= 0 {
			t.Fatalf("ids not increasing: %s then %s", prev, id)
		}
		prev = id
	}
}
