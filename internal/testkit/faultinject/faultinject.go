// Package faultinject makes chosen functions fail on purpose, for tests of the retry and
// rollback paths. Only tests import it: nothing reachable from the API or a Lambda can turn
// it on.
package faultinject

import (
	"context"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Plan says how one function misbehaves.
type Plan struct {
	// Transient is how many invocations fail with a TransientError before it behaves.
	Transient int
	// AfterWork makes a transient failure happen after the real handler ran and committed,
	// as when a response is lost: the retry then meets work already done.
	AfterWork bool
	// Permanent makes every invocation fail with an InvariantError, without running.
	Permanent bool
	// Hang is how many invocations (after the transient ones) never answer: each waits
	// until its context ends, as a function Lambda times out (lambdarun.WithTimeout reports
	// it). With AfterWork the real handler runs and commits first.
	Hang int
}

// Wrap returns catalog with the functions named in plans wrapped to follow them.
func Wrap(catalog map[string]lambda.Handler, plans map[string]Plan) map[string]lambda.Handler {
	out := make(map[string]lambda.Handler, len(catalog))
	for name, h := range catalog {
		if p, ok := plans[name]; ok {
			out[name] = &faulty{Handler: h, name: name, plan: p}
		} else {
			out[name] = h
		}
	}
	return out
}

type faulty struct {
	lambda.Handler
	name string
	mu   sync.Mutex
	plan Plan
}

func (f *faulty) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	permanent := f.plan.Permanent
	transient := f.plan.Transient > 0
	hang := !transient && f.plan.Hang > 0
	switch {
	case transient:
		f.plan.Transient--
	case hang:
		f.plan.Hang--
	}
	f.mu.Unlock()
	switch {
	case permanent:
		return nil, &fault.InvariantError{Op: f.name, Msg: "injected permanent fault"}
	case transient && f.plan.AfterWork:
		if _, err := f.Handler.Invoke(ctx, payload); err != nil {
			return nil, err
		}
		return nil, &fault.TransientError{Op: f.name, Msg: "injected transient fault after the work (response lost)"}
	case transient:
		return nil, &fault.TransientError{Op: f.name, Msg: "injected transient fault"}
	case hang:
		if f.plan.AfterWork {
			if _, err := f.Handler.Invoke(ctx, payload); err != nil {
				return nil, err
			}
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return f.Handler.Invoke(ctx, payload)
}
