// Package handlers maps the catalogue's functions to their handlers, each wrapped by
// aws-lambda-go exactly as the Lambda runtime wraps it (same JSON decoding, same error
// types), so what the local runners call is what runs in AWS.
package handlers

import (
	"context"
	"maps"
	"sort"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/reconcile"
	"github.com/healthstack/tenant-provisioning/internal/upgrade"
)

// API maps the admin API functions' logical ids to their handlers on h (h.Functions).
func API(h *api.Handler) map[string]lambda.Handler {
	c := map[string]lambda.Handler{}
	for id, fn := range h.Functions() {
		c[id] = sandboxed(fn)
	}
	return c
}

// Pipeline maps the state machine's functions (the steps and the rollback) to their
// handlers on s.
func Pipeline(s *pipeline.Steps) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		catalog.CreateTenantRecord.LogicalID:    sandboxed(s.CreateTenantRecord),
		catalog.CreateSchema.LogicalID:          sandboxed(s.CreateSchema),
		catalog.RunMigrations.LogicalID:         sandboxed(s.RunMigrations),
		catalog.SeedRolesAndUser.LogicalID:      sandboxed(s.SeedRolesAndUser),
		catalog.DeploySorobanContract.LogicalID: sandboxed(s.DeploySorobanContract),
		catalog.StoreContractAddress.LogicalID:  sandboxed(s.StoreContractAddress),
		catalog.SendWelcomeEmail.LogicalID:      sandboxed(s.SendWelcomeEmail),
		catalog.ActivateTenant.LogicalID:        sandboxed(s.ActivateTenant),
		catalog.Rollback.LogicalID:              sandboxed(s.Rollback),
	}
}

// Reconcile is the reconcile function's handler, by its logical id.
func Reconcile(r *reconcile.Reconciler) map[string]lambda.Handler {
	return map[string]lambda.Handler{catalog.Reconcile.LogicalID: sandboxed(r.Run)}
}

// Upgrade maps the upgrade state machine's functions to their handlers on u.
func Upgrade(u *upgrade.Upgrader) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		catalog.ListTenantsToUpgrade.LogicalID: sandboxed(u.List),
		catalog.MigrateTenantBatch.LogicalID:   sandboxed(u.MigrateBatch),
		catalog.SummarizeUpgrade.LogicalID:     sandboxed(u.Summarize),
	}
}

// sandboxed wraps fn as lambda.NewHandler does, afresh for every invocation, as each
// concurrent invocation of a Lambda function runs in a sandbox of its own. One
// lambda.NewHandler handler must not serve two invocations at once: it answers in a pooled
// buffer that it hands back to the pool before the caller has read it, for its next
// invocation to write into. Building the handler per invocation (a few microseconds of
// reflection) gives each its own pool, so a Map's items and concurrent executions run at
// once, as in AWS, instead of taking turns in one handler.
func sandboxed(fn any) lambda.Handler { return sandbox{fn} }

type sandbox struct{ fn any }

func (s sandbox) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return lambda.NewHandler(s.fn).Invoke(ctx, payload)
}

// Substitutions maps each ${<LogicalId>Arn} of the state machine definition to the
// function's logical id, which is how local runners address functions (as
// `sam local start-lambda` does); SAM's DefinitionSubstitutions map them to real ARNs.
func Substitutions(c map[string]lambda.Handler) map[string]string {
	subs := make(map[string]string, len(c))
	for id := range c {
		if f, ok := catalog.ByLogicalID(id); ok {
			subs[f.Substitution()] = id
		}
	}
	return subs
}

// Names lists the logical ids of c, sorted.
func Names(c map[string]lambda.Handler) []string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Reserve gives the functions of c named in limits a reserved concurrency, as
// template.yaml's ReservedConcurrentExecutions does in AWS: an invocation beyond a
// function's limit is refused before it runs, with the error Lambda throttling reaches
// Step Functions with (Lambda.TooManyRequestsException), which the definitions retry.
// Throttled counts the refusals.
func Reserve(c map[string]lambda.Handler, limits map[string]int) (_ map[string]lambda.Handler, throttled *atomic.Int64) {
	throttled = &atomic.Int64{}
	out := maps.Clone(c)
	for id, n := range limits {
		if h := c[id]; h != nil {
			out[id] = reserved{h: h, slots: make(chan struct{}, n), throttled: throttled}
		}
	}
	return out, throttled
}

type reserved struct {
	h         lambda.Handler
	slots     chan struct{}
	throttled *atomic.Int64
}

func (r reserved) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
		return r.h.Invoke(ctx, payload)
	default:
		r.throttled.Add(1)
		return nil, messages.InvokeResponse_Error{Type: "Lambda.TooManyRequestsException", Message: "Rate Exceeded."}
	}
}
