package controlplane

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

func TestPlainInvocationMigrates(t *testing.T) {
	t.Parallel()
	h := New(testdb.New(t), slog.New(slog.DiscardHandler))
	out, err := h.Handle(context.Background(), json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if res, ok := out.(store.MigrationResult); !ok || res.To < 1 || res.From != res.To {
		t.Errorf("result = %#v, want the latest version, already there", out)
	}
}

// As a custom resource it answers CloudFormation with the versions, and a Delete leaves the
// data alone.
func TestCustomResource(t *testing.T) {
	t.Parallel()
	pool := testdb.New(t)
	h := New(pool, slog.New(slog.DiscardHandler))
	type answer struct {
		id   string
		data map[string]any
		err  error
	}
	var got answer
	h.respond = func(fn cfn.CustomResourceFunction) cfn.CustomResourceLambdaFunction {
		return func(ctx context.Context, ev cfn.Event) (string, error) {
			got.id, got.data, got.err = fn(ctx, ev)
			return "", got.err
		}
	}
	for _, rt := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestUpdate, cfn.RequestDelete} {
		raw, _ := json.Marshal(cfn.Event{RequestType: rt, RequestID: "r", ResponseURL: "https://cloudformation.invalid/x", LogicalResourceID: "Migrations"})
		if _, err := h.Handle(context.Background(), raw); err != nil {
			t.Fatalf("%s: %v", rt, err)
		}
		if got.id != PhysicalID || (rt != cfn.RequestDelete && got.data["ToVersion"] == nil) {
			t.Errorf("%s answered %+v", rt, got)
		}
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE tablename = 'tenants'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("after Delete the control plane is gone: %d %v", n, err)
	}
}
