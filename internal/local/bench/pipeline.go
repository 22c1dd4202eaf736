package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/local/asl"
	"github.com/healthstack/tenant-provisioning/internal/local/devstack"
	"github.com/healthstack/tenant-provisioning/internal/local/execution"
	"github.com/healthstack/tenant-provisioning/internal/local/scratchdb"
	"github.com/healthstack/tenant-provisioning/internal/local/sesoutbox"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// benchKeep is how many executions the bench's runner, and how many mails its outbox,
// remember: fewer than a run provisions, so that the run reaches a steady state.
const benchKeep = 100

// pipelineRig is the real pipeline on the bench database: every step handler, e-mail to a
// local SES outbox, contracts to the Stellar RPC double, the ASL engine on a fast clock.
type pipelineRig struct {
	stack  *devstack.Stack
	outbox *httptest.Server
	store  *store.Store
	runner *execution.Runner
	prefix string
	seq    atomic.Int64
}

func startPipeline(ctx context.Context, dbURL string) (*pipelineRig, error) {
	return startPipelineWith(ctx, dbURL, nil)
}

// startPipelineWith is startPipeline with the dev stack's options changed by edit (the
// burst phase's Stellar double and deployer accounts).
func startPipelineWith(ctx context.Context, dbURL string, edit func(*devstack.Options)) (*pipelineRig, error) {
	box, err := sesoutbox.New("", sesoutbox.WithAutoVerify(), sesoutbox.WithLimit(benchKeep))
	if err != nil {
		return nil, err
	}
	rig := &pipelineRig{outbox: httptest.NewServer(box), prefix: scratchdb.RandomHex(4)}
	ses := sesv2.New(sesv2.Options{Region: "local", BaseEndpoint: aws.String(rig.outbox.URL), Credentials: aws.AnonymousCredentials{}})
	opts := devstack.Options{
		DatabaseURL: dbURL,
		Log:         slog.New(slog.DiscardHandler),
		Mailer:      email.NewSender(ses, "noreply@bench.localhost", ""),
		Email: config.Email{
			AppBaseURL:        "http://localhost",
			TenantURLTemplate: "http://localhost/t/{tenantId}",
			ActivationTTL:     time.Hour,
		},
		Contracts: devstack.ContractsDouble,
	}
	if edit != nil {
		edit(&opts)
	}
	rig.stack, err = devstack.Start(ctx, opts)
	if err != nil {
		rig.outbox.Close()
		return nil, err
	}
	rig.store = store.New(rig.stack.Pool)
	// The runner remembers fewer executions than a run provisions, so that the run reaches
	// the steady state a long-lived local engine is in (make dev keeps 1,000).
	rig.runner, err = execution.NewRunner(rig.stack.Catalog, execution.Options{Clock: asl.NewFastClock(), Keep: benchKeep})
	if err != nil {
		rig.close()
		return nil, err
	}
	return rig, nil
}

func (r *pipelineRig) close() {
	r.stack.Close()
	r.outbox.Close()
}

// provision reserves one tenant and runs its execution to the end. It returns the
// execution (its history carries each step's timing) and how long the reservation took.
func (r *pipelineRig) provision(ctx context.Context) (*asl.Execution, time.Duration, error) {
	ex, reserved, err := r.reserveAndRun(ctx)
	if err != nil {
		return nil, 0, err
	}
	if ex.Status != asl.StatusSucceeded {
		return nil, 0, fmt.Errorf("bench: execution %s ended %s: %s %s", ex.Name, ex.Status, ex.Error, ex.Cause)
	}
	return &ex, reserved, nil
}

// reserveAndRun reserves one tenant and runs its execution to the end, whatever the end,
// and says how long the reservation took.
func (r *pipelineRig) reserveAndRun(ctx context.Context) (asl.Execution, time.Duration, error) {
	start := time.Now()
	i := r.seq.Add(1)
	reg, err := tenant.Registration{
		Name:           fmt.Sprintf("Bench Clinic %s %d", r.prefix, i),
		AdminEmail:     fmt.Sprintf("admin%d@bench.example.com", i),
		AdminFirstName: "Ada",
		AdminLastName:  "Bench",
	}.Normalize()
	if err != nil {
		return asl.Execution{}, 0, err
	}
	t, err := r.store.Reserve(ctx, reg)
	if err != nil {
		return asl.Execution{}, 0, err
	}
	reserved := time.Since(start)
	run, _, err := r.runner.Start(ctx, t.ID)
	if err != nil {
		return asl.Execution{}, 0, err
	}
	return run.Wait(), reserved, nil
}

// throughput provisions n tenants with at most c at a time and returns the wall time.
func (r *pipelineRig) throughput(ctx context.Context, n, c int) (time.Duration, error) {
	start := time.Now()
	err := inParallel(n, c, func(_, _ int) error { _, _, err := r.provision(ctx); return err })
	return time.Since(start), err
}

// latencies provisions runs tenants one at a time and returns each one's end-to-end time
// and where that time went. Beside each, floor provisions one floor tenant, timed too:
// interleaved, the floor and the pipeline see the same machine, which on a shared and
// noisy machine matters more than anything else about the comparison. Which of the two
// goes first alternates, so that neither always inherits the other's after-effects (WAL
// flushes, dirty pages, garbage).
func (r *pipelineRig) latencies(ctx context.Context, runs int, floor func(context.Context) (time.Duration, error)) (pipe, base []time.Duration, parts *breakdown, err error) {
	parts = &breakdown{}
	one := func() error {
		start := time.Now()
		ex, reserved, err := r.provision(ctx)
		if err != nil {
			return err
		}
		total := time.Since(start)
		pipe = append(pipe, total)
		parts.add(ex, reserved, total)
		return nil
	}
	for i := range runs {
		if i%2 == 1 {
			if err := one(); err != nil {
				return nil, nil, nil, err
			}
		}
		f, err := floor(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		base = append(base, f)
		if i%2 == 0 {
			if err := one(); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return pipe, base, parts, nil
}

// breakdown is where each end-to-end run's time went, part by part: the reservation, each
// step's handler (LambdaFunctionStarted → Succeeded in the execution history), and the
// rest ("engine": starting the execution, passing state between steps, its history).
type breakdown struct {
	order []string // parts in the order the first run met them
	times map[string][]time.Duration
}

const (
	partReserve = "reserve"
	partEngine  = "engine and hand-offs"
)

func (b *breakdown) record(part string, d time.Duration) {
	if b.times == nil {
		b.times = map[string][]time.Duration{}
	}
	if _, seen := b.times[part]; !seen {
		b.order = append(b.order, part)
	}
	b.times[part] = append(b.times[part], d)
}

func (b *breakdown) add(ex *asl.Execution, reserved, total time.Duration) {
	b.record(partReserve, reserved)
	handlers := time.Duration(0)
	started := map[string]time.Time{}
	for _, ev := range ex.Events {
		switch ev.Type {
		case asl.LambdaFunctionStarted:
			started[ev.StateName] = ev.Timestamp
		case asl.LambdaFunctionSucceeded, asl.LambdaFunctionFailed, asl.LambdaFunctionTimedOut:
			d := ev.Timestamp.Sub(started[ev.StateName])
			b.record(ev.StateName, d)
			handlers += d
		}
	}
	b.record(partEngine, total-reserved-handlers)
}

// results reports each part's median against the floor's median per tenant.
func (b *breakdown) results(floorMs float64) []Result {
	out := make([]Result, 0, len(b.order))
	for _, part := range b.order {
		out = append(out, newResult("latency p50 of "+part, ms(percentile(b.times[part], 50)), "ms",
			floorMs, "floor p50, interleaved"))
	}
	return out
}

// percentile is the nearest-rank percentile (0 < p ≤ 100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(rank, len(s)-1))]
}
