package handlers

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
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

// A function with a reserved concurrency runs that many invocations at once and refuses
// the next, before it runs, with the error Step Functions sees from Lambda throttling; a
// finished invocation frees its slot, and functions without a limit are not throttled.
func TestReserveThrottlesBeyondTheLimit(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var running sync.WaitGroup
	block := lambdarun.NewHandler(func(ctx context.Context) (string, error) {
		running.Done()
		<-release
		return "done", nil
	})
	free := lambdarun.NewHandler(func(ctx context.Context) (string, error) { return "free", nil })
	c, throttled := Reserve(map[string]lambda.Handler{"Blocking": block, "Free": free}, map[string]int{"Blocking": 2, "Absent": 1})
	if _, ok := c["Absent"]; ok {
		t.Error("a limit for a function the catalogue lacks added it")
	}
	var done sync.WaitGroup
	running.Add(2)
	for range 2 {
		done.Go(func() {
			if out, err := lambdarun.Invoke(context.Background(), c["Blocking"], []byte(`{}`)); err != nil || string(out) != `"done"` {
				t.Errorf("an invocation within the limit: %s, %v", out, err)
			}
		})
	}
	running.Wait()
	_, err := lambdarun.Invoke(context.Background(), c["Blocking"], []byte(`{}`))
	if err == nil || err.Type != "Lambda.TooManyRequestsException" {
		t.Errorf("the third invocation at once: %+v, want Lambda.TooManyRequestsException", err)
	}
	if out, err := lambdarun.Invoke(context.Background(), c["Free"], []byte(`{}`)); err != nil || string(out) != `"free"` {
		t.Errorf("a function without a limit: %s, %+v", out, err)
	}
	close(release)
	done.Wait()
	running.Add(1)
	if out, err := lambdarun.Invoke(context.Background(), c["Blocking"], []byte(`{}`)); err != nil || string(out) != `"done"` {
		t.Errorf("after the others finished: %s, %+v", out, err)
	}
	if n := throttled.Load(); n != 1 {
		t.Errorf("throttled %d invocations, want 1", n)
	}
}
