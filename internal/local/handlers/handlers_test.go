package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// Through aws-lambda-go's own handler wrapper, each function still returns the typed error
// whose name Step Functions matches: no function wraps it on the way out.
func TestHandlersKeepErrorTypes(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	c := Pipeline(pipeline.New(pool, slog.New(slog.DiscardHandler)))
	if len(c) != 9 {
		t.Errorf("catalog has %d functions: %v", len(c), Names(c))
	}
	for _, name := range Names(c) {
		t.Run(name, func(t *testing.T) {
			_, err := c[name].Invoke(context.Background(), []byte(`{"tenantId":"not-a-uuid","executionArn":"arn","contractId":"C"}`))
			if got := fault.Name(err); got != "ValidationError" {
				t.Errorf("error %v is %q, want ValidationError", err, got)
			}
			_, err = c[name].Invoke(context.Background(), []byte(`{"tenantId":`))
			if err == nil {
				t.Error("malformed JSON accepted")
			}
		})
	}
}

// Invocations of one function at once each get their own answer, as from sandboxes of
// their own: one lambda.NewHandler handler shared between them hands its pooled answer
// buffer to the next invocation before the caller has read it.
func TestSandboxedHandlersServeConcurrentInvocations(t *testing.T) {
	t.Parallel()
	type msg struct {
		N int `json:"n"`
	}
	h := sandboxed(func(_ context.Context, in msg) (msg, error) { return in, nil })
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			for range 20 {
				want := fmt.Sprintf(`{"n":%d}`, i)
				out, err := h.Invoke(context.Background(), []byte(want))
				if err != nil || string(out) != want {
					t.Errorf("invocation with %s answered %s, %v", want, out, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
