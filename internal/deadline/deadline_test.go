package deadline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// A handler works until Reserve before its invocation's deadline; an error it returns
// after that is a TransientError the state machine retries, a taxonomy error stays as it
// is, and without a deadline nothing changes.
func TestKeep(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom")
	tests := []struct {
		name     string
		deadline time.Duration // 0: none
		fn       func(ctx context.Context, _ struct{}) (time.Duration, error)
		wantErr  string // fault.Name of the error, "" for none, "*errors.errorString" for errBoom
		wantLeft time.Duration
	}{
		{"deadline moved earlier", time.Minute, func(ctx context.Context, _ struct{}) (time.Duration, error) {
			d, _ := ctx.Deadline()
			return time.Until(d), nil
		}, "", time.Minute - Reserve},
		{"no deadline", 0, func(ctx context.Context, _ struct{}) (time.Duration, error) {
			if _, ok := ctx.Deadline(); ok {
				return 0, errBoom
			}
			return 0, nil
		}, "", 0},
		{"stopped at the work's deadline", Reserve + 50*time.Millisecond, func(ctx context.Context, _ struct{}) (time.Duration, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}, "TransientError", 0},
		{"a taxonomy error stays", Reserve + 50*time.Millisecond, func(ctx context.Context, _ struct{}) (time.Duration, error) {
			<-ctx.Done()
			return 0, &fault.InvariantError{Op: "x", Msg: "y"}
		}, "InvariantError", 0},
		{"an error in time stays", time.Minute, func(ctx context.Context, _ struct{}) (time.Duration, error) {
			return 0, errBoom
		}, "errorString", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			left, err := Keep(tt.fn)(ctx, struct{}{})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantErr != "" && fault.Name(err) != tt.wantErr:
				t.Fatalf("err = %v (%s), want %s", err, fault.Name(err), tt.wantErr)
			}
			if tt.wantLeft > 0 && (left > tt.wantLeft || left < tt.wantLeft-time.Second) {
				t.Errorf("the handler had %v left, want about %v", left, tt.wantLeft)
			}
		})
	}
}
