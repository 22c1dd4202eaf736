// Package deadline keeps a Lambda handler inside its invocation's deadline. The handler
// works until the deadline less Reserve and, stopped there, returns a TransientError that
// the state machine retries, rather than being stopped by Lambda (Sandbox.Timedout) with
// its outcome unrecorded and its connections and leases left for their timeouts.
package deadline

import (
	"context"
	"errors"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Reserve is what a handler keeps of its invocation's time after its work's deadline: to
// record a failed attempt (pipeline's failure row gets 5 s, detached from the work's
// context) and to answer. Every wait inside a function fits its timeout less Reserve, and
// every detached one fits Reserve (template_test.go holds both).
const Reserve = 6 * time.Second

// Keep runs fn with a context whose deadline is Reserve before the invocation's (a context
// without a deadline is left as it is). An error fn returns once that deadline has passed
// becomes a TransientError naming it, unless it is one of the taxonomy's already.
func Keep[In, Out any](fn func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		work, cancel := Within(ctx)
		defer cancel()
		out, err := fn(work, in)
		if err != nil && fault.Known(err) == nil && errors.Is(work.Err(), context.DeadlineExceeded) {
			err = &fault.TransientError{Op: "invocation", Msg: "stopped before the function's timeout", Err: err}
		}
		return out, err
	}
}

// Within is ctx with its deadline moved Reserve earlier; a deadline less than Reserve away
// has passed already.
func Within(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, d.Add(-Reserve))
}
