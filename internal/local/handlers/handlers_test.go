package handlers

import (
	"context"
	"log/slog"
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
