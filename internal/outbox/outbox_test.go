package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/outbox"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testkit/bustest"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// env is a control plane whose transitions the test makes as the owner, and the
// publisher's view of it as its own database user.
type env struct {
	ctx       context.Context
	admin     *store.Store
	pool      *pgxpool.Pool
	publisher *store.Store // as tp_publisher
	bus       *bustest.Bus
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool, url := testdb.NewWithURL(t)
	return &env{ctx: context.Background(), admin: store.New(pool), pool: pool,
		publisher: store.New(testdb.As(t, url, string(catalog.PublisherUser))), bus: bustest.New(t)}
}

// Personal data the scan looks for in every event.
const (
	adminEmail = "dr.evelyn.zz7@outbox-clinic.example"
	adminFirst = "Evelynzz"
	adminLast  = "Outboxzz"
)

func (e *env) reserve(t *testing.T, ctx context.Context, name string) tenant.Tenant {
	t.Helper()
	reg, err := tenant.Registration{Name: name, AdminEmail: adminEmail, AdminFirstName: adminFirst, AdminLastName: adminLast}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	tn, err := e.admin.Reserve(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func (e *env) inTx(t *testing.T, ctx context.Context, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := e.admin.InTx(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func arn(id uuid.UUID, suffix string) string {
	return "arn:aws:states:us-east-1:123456789012:execution:tenant-provisioning:" + id.String() + suffix
}

func (e *env) unpublished(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM event_outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Every kind of transition writes one event, which the publisher puts on the bus once:
// valid against its type's schema, the tenant (or run) its subject, the request that made
// it named, the failure's error type and never its text, and no e-mail or name.
func TestEveryTransitionPublishesOneValidEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	byAdmin := audit.With(e.ctx, audit.Actor{Name: audit.Admin("https://issuer.example", "ops-1"), RequestID: "req-create-1"})
	bySystem := audit.With(e.ctx, audit.Actor{Name: audit.System("ActivateTenantFunction")})

	// One tenant onboarded, then archived.
	ok := e.reserve(t, byAdmin, "Outbox Onboarded Clinic")
	e.inTx(t, bySystem, func(tx *store.Tx) error { return tx.Claim(e.ctx, ok.ID, arn(ok.ID, ""), "t_outbox_ok") })
	e.inTx(t, bySystem, func(tx *store.Tx) error { return tx.Activate(e.ctx, ok.ID) })
	archiveCtx := audit.With(e.ctx, audit.Actor{Name: audit.Admin("https://issuer.example", "ops-1"), RequestID: "req-archive-1"})
	e.inTx(t, archiveCtx, func(tx *store.Tx) error { _, err := tx.Archive(e.ctx, ok.ID); return err })

	// One that failed (its error quoting the admin's address), was retried, failed again.
	bad := e.reserve(t, byAdmin, "Outbox Failed Clinic")
	e.inTx(t, bySystem, func(tx *store.Tx) error { return tx.Claim(e.ctx, bad.ID, arn(bad.ID, ""), "t_outbox_bad") })
	e.inTx(t, bySystem, func(tx *store.Tx) error {
		return tx.MarkFailed(e.ctx, bad.ID, "ValidationError: "+adminEmail+" was refused for "+adminFirst)
	})
	retryCtx := audit.With(e.ctx, audit.Actor{Name: audit.Admin("https://issuer.example", "ops-1"), RequestID: "req-retry-1"})
	if _, err := e.admin.Retry(retryCtx, bad.ID); err != nil {
		t.Fatal(err)
	}
	e.inTx(t, bySystem, func(tx *store.Tx) error { return tx.Claim(e.ctx, bad.ID, arn(bad.ID, "-r1"), "t_outbox_bad") })
	e.inTx(t, bySystem, func(tx *store.Tx) error { return tx.MarkFailed(e.ctx, bad.ID, adminLast+": no type here") })

	// A reservation no execution took.
	never := e.reserve(t, byAdmin, "Outbox Never Clinic")
	if failed, err := e.admin.FailReservation(bySystem, never.ID, "provisioning was never started"); err != nil || !failed {
		t.Fatalf("fail reservation: %v %v", failed, err)
	}

	// An upgrade run that ends.
	run, err := e.admin.CreateUpgradeRun(e.ctx, []tenant.Status{tenant.StatusActive}, false, 3)
	if err != nil {
		t.Fatal(err)
	}
	for outcome, n := range map[string]int{store.OutcomeUpgraded: 2, store.OutcomeFailed: 1, store.OutcomeCurrent: 1} {
		for range n {
			if err := e.admin.RecordUpgradeResult(e.ctx, store.UpgradeResult{RunID: run.ID, TenantID: uuid.New(), Outcome: outcome}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := e.admin.FinishUpgradeRun(e.ctx, run.ID, store.RunSucceeded, ""); err != nil {
		t.Fatal(err)
	}

	got := e.bus.Drain(t, e.publisher)
	type key struct {
		subject uuid.UUID
		typ     string
	}
	want := map[uuid.UUID][]string{
		ok.ID: {outbox.TenantReserved, outbox.TenantProvisioningStarted, outbox.TenantActivated, outbox.TenantArchived},
		bad.ID: {outbox.TenantReserved, outbox.TenantProvisioningStarted, outbox.TenantFailed, outbox.TenantRetried,
			outbox.TenantProvisioningStarted, outbox.TenantFailed},
		never.ID: {outbox.TenantReserved, outbox.TenantFailed},
		run.ID:   {outbox.UpgradeRunFinished},
	}
	seen := map[uuid.UUID][]outbox.Event{}
	ids := map[string]bool{}
	for _, r := range got {
		bustest.Valid(t, r)
		NoPersonalData(t, r)
		if ids[r.Event.ID] {
			t.Errorf("event %s received twice", r.Event.ID)
		}
		ids[r.Event.ID] = true
		s := uuid.MustParse(r.Event.Subject)
		seen[s] = append(seen[s], r.Event)
	}
	for subject, types := range want {
		evs := seen[subject]
		// The queue need not keep the bus's order: order by time, which the triggers set
		// in each transition's transaction.
		slices.SortFunc(evs, func(a, b outbox.Event) int { return a.Time.Compare(b.Time) })
		var gotTypes []string
		for _, ev := range evs {
			gotTypes = append(gotTypes, ev.Type)
		}
		if !slices.Equal(gotTypes, types) {
			t.Errorf("events of %s: %v, want %v", subject, gotTypes, types)
		}
	}
	if len(got) != 13 {
		t.Errorf("%d events, want 13", len(got))
	}

	data := func(ev outbox.Event) map[string]any {
		var d map[string]any
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// The request reaches the events of the transitions it made, and only those.
	for _, ev := range append(append([]outbox.Event{}, seen[ok.ID]...), seen[bad.ID]...) {
		wantReq := map[string]string{outbox.TenantReserved: "req-create-1", outbox.TenantRetried: "req-retry-1",
			outbox.TenantArchived: "req-archive-1"}[ev.Type]
		if ev.RequestID != wantReq {
			t.Errorf("%s %s: requestid %q, want %q", ev.Subject, ev.Type, ev.RequestID, wantReq)
		}
	}
	// The failures' types: the caught error's, unclassified text, and a start that never came.
	var errorTypes []string
	for _, ev := range append(bustest.EventsOf(seen[bad.ID], outbox.TenantFailed), bustest.EventsOf(seen[never.ID], outbox.TenantFailed)...) {
		errorTypes = append(errorTypes, data(ev)["errorType"].(string))
	}
	if want := []string{"ValidationError", "Unclassified", "ProvisioningNotStarted"}; !slices.Equal(errorTypes, want) {
		t.Errorf("failed events' errorType: %v, want %v", errorTypes, want)
	}
	if d := data(seen[run.ID][0]); d["status"] != "SUCCEEDED" ||
		!jsonEqual(d["counts"], map[string]any{"upgraded": 2.0, "failed": 1.0, "current": 1.0, "planned": 0.0, "pending": 0.0}) {
		t.Errorf("upgrade run event data: %v", d)
	}

	// Published once: a second run sends nothing.
	if again := e.bus.Drain(t, e.publisher); len(again) != 0 {
		t.Errorf("a second run sent %d events again", len(again))
	}
	if n := e.unpublished(t); n != 0 {
		t.Errorf("%d events left unpublished", n)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// NoPersonalData fails t if the event holds the admin's e-mail address or names, or any
// e-mail address.
func NoPersonalData(t *testing.T, r bustest.Received) {
	t.Helper()
	d := strings.ToLower(string(r.Detail))
	for _, s := range []string{adminEmail, adminFirst, adminLast, "@"} {
		if strings.Contains(d, strings.ToLower(s)) {
			t.Errorf("event %s (%s) holds %q: %s", r.Event.ID, r.Event.Type, s, r.Detail)
		}
	}
}

// A transition rolled back leaves no event: the outbox row goes with it.
func TestRolledBackTransitionPublishesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.reserve(t, e.ctx, "Outbox Rollback Clinic")
	e.bus.Drain(t, e.publisher) // the reservation's

	boom := errors.New("boom")
	err := e.admin.InTx(e.ctx, func(tx *store.Tx) error {
		if err := tx.Claim(e.ctx, tn.ID, arn(tn.ID, ""), "t_outbox_rb"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if evs := e.bus.Drain(t, e.publisher); len(evs) != 0 {
		t.Errorf("a rolled-back claim published %d events: %+v", len(evs), evs)
	}
	if n := e.unpublished(t); n != 0 {
		t.Errorf("%d events in the outbox", n)
	}
}

// stopAfterSend is the real EventBridge client, after whose answer the publisher is
// stopped before it can mark what it sent: its context cancelled, or its database
// connection killed.
type stopAfterSend struct {
	bus  outbox.Bus
	stop func()
	once atomic.Bool
}

func (s *stopAfterSend) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	out, err := s.bus.PutEvents(ctx, in, opts...)
	if err == nil && !s.once.Swap(true) {
		s.stop()
	}
	return out, err
}

// A publisher stopped after the bus took its events and before it marked them loses none:
// the next run sends them again, with the same ids, for consumers to deduplicate.
func TestPublisherStoppedAfterSendingLosesNothing(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"context cancelled", "connection killed"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			pool, url := testdb.NewWithURL(t)
			admin := store.New(pool)
			pubPool := testdb.As(t, url, string(catalog.PublisherUser))
			bus := bustest.New(t)
			reg, _ := tenant.Registration{Name: "Outbox Crash Clinic", AdminEmail: adminEmail, AdminFirstName: adminFirst, AdminLastName: adminLast}.Normalize()
			tn, err := admin.Reserve(context.Background(), reg)
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stop := cancel
			if how == "connection killed" {
				stop = func() {
					if _, err := pool.Exec(context.Background(),
						`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND datname = current_database()`,
						string(catalog.PublisherUser)); err != nil {
						t.Error(err)
					}
				}
			}
			p := bus.Publisher(store.New(pubPool), nil)
			p.Bus = &stopAfterSend{bus: p.Bus, stop: stop}
			rep, err := p.Publish(ctx, outbox.Input{})
			if err == nil || rep.Published != 0 {
				t.Fatalf("the stopped run: %+v, %v; want an error and nothing marked", rep, err)
			}
			first := bus.Receive(t, 1)
			if len(first) != 1 || first[0].Event.Subject != tn.ID.String() {
				t.Fatalf("the bus got %+v", first)
			}

			second := bus.Drain(t, store.New(pubPool))
			if len(second) != 1 || second[0].Event.ID != first[0].Event.ID || string(second[0].Detail) != string(first[0].Detail) {
				t.Fatalf("the next run sent %+v, want the same event again", second)
			}
			if again := bus.Drain(t, store.New(pubPool)); len(again) != 0 {
				t.Errorf("a third run sent %d", len(again))
			}
		})
	}
}

// refuseSecond is the real client with the second entry of each call spoilt (no
// detail-type), which the bus refuses on its own while taking the others.
type refuseSecond struct{ bus outbox.Bus }

func (r refuseSecond) PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	if len(in.Entries) > 1 {
		in.Entries[1].DetailType = aws.String("")
	}
	return r.bus.PutEvents(ctx, in, opts...)
}

// An event the bus refuses stays in the outbox, the run reports it (a TransientError, for
// the errors alarm) and goes on with the others; the next run sends it.
func TestRefusedEventStaysForTheNextRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"Outbox Refused One", "Outbox Refused Two", "Outbox Refused Three"} {
		e.reserve(t, e.ctx, name)
	}
	p := e.bus.Publisher(e.publisher, nil)
	p.Bus = refuseSecond{bus: p.Bus}
	rep, err := p.Publish(e.ctx, outbox.Input{})
	if !fault.IsTransient(err) || rep.Published != 2 || rep.Refused != 1 {
		t.Fatalf("Publish = %+v, %v; want 2 published, 1 refused, a TransientError", rep, err)
	}
	if got := e.bus.Receive(t, 2); len(got) != 2 {
		t.Errorf("the bus got %d events, want 2", len(got))
	}
	if n := e.unpublished(t); n != 1 {
		t.Fatalf("%d events unpublished, want the refused one", n)
	}
	if got := e.bus.Drain(t, e.publisher); len(got) != 1 {
		t.Errorf("the next run sent %d, want the refused one", len(got))
	}
}

// Without a bus to reach, the run fails with a TransientError and marks nothing.
func TestUnreachableBusMarksNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.reserve(t, e.ctx, "Outbox Unreachable Clinic")
	cfg := eventbridge.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1}
	p := &outbox.Publisher{Store: e.publisher, Bus: eventbridge.New(cfg), BusName: e.bus.Name, Log: discard()}
	if _, err := p.Publish(e.ctx, outbox.Input{}); !fault.IsTransient(err) {
		t.Fatalf("Publish = %v, want a TransientError", err)
	}
	if n := e.unpublished(t); n != 1 {
		t.Errorf("%d unpublished, want 1", n)
	}
}

// A run stops before a batch it could not finish before its deadline, cleanly: nothing
// sent, nothing lost, and it says more is waiting.
func TestPublisherStopsBeforeItsDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.reserve(t, e.ctx, "Outbox Deadline Clinic")
	ctx, cancel := context.WithTimeout(e.ctx, outbox.DefaultSendTimeout)
	defer cancel()
	rep, err := e.bus.Publisher(e.publisher, nil).Publish(ctx, outbox.Input{})
	if err != nil || !rep.More || rep.Published != 0 {
		t.Fatalf("Publish = %+v, %v; want nothing sent and More", rep, err)
	}
	if n := e.unpublished(t); n != 1 {
		t.Errorf("%d unpublished, want 1", n)
	}
	// With the time a batch needs, it goes out.
	ctx2, cancel2 := context.WithTimeout(e.ctx, outbox.DefaultSendTimeout+outbox.MarkTime+5*time.Second)
	defer cancel2()
	if rep, err := e.bus.Publisher(e.publisher, nil).Publish(ctx2, outbox.Input{}); err != nil || rep.Published != 1 || rep.More {
		t.Errorf("Publish = %+v, %v", rep, err)
	}
}

// Many events go in batches of ten, in order, each once.
func TestPublisherSendsInBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 23 {
		e.reserve(t, e.ctx, "Outbox Batch Clinic "+string(rune('A'+i)))
	}
	got := e.bus.Drain(t, e.publisher)
	ids := map[string]bool{}
	for _, r := range got {
		ids[r.Event.ID] = true
	}
	if len(got) != 23 || len(ids) != 23 {
		t.Errorf("%d events, %d distinct; want 23", len(got), len(ids))
	}
}

// Each type has its schema, and the page that lists the events names every type.
func TestEveryTypeHasItsSchemaAndItsEntry(t *testing.T) {
	t.Parallel()
	files, err := fs.Glob(outbox.Schemas, "schemas/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, f := range files {
		types = append(types, strings.TrimSuffix(strings.TrimPrefix(f, "schemas/"), ".json"))
	}
	if !slices.Equal(slices.Sorted(slices.Values(types)), slices.Sorted(slices.Values(outbox.Types))) {
		t.Errorf("schemas for %v, types %v", types, outbox.Types)
	}
	page, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	migration, err := os.ReadFile("../store/migrations/016_event_outbox.sql")
	if err != nil {
		t.Fatal(err)
	}
	access, err := os.ReadFile("../store/access.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range outbox.Types {
		if _, ok := bustest.Schema(t, typ); !ok {
			t.Errorf("%s: no schema", typ)
		}
		if !strings.Contains(string(page), "`"+typ+"`") {
			t.Errorf("README.md does not list %s", typ)
		}
		// The triggers write the type whole, or as com.healthstack.tenant.<kind>.
		kind, _ := strings.CutPrefix(typ, "com.healthstack.tenant.")
		if !strings.Contains(string(migration)+string(access), "'"+typ+"'") && !strings.Contains(string(migration), "'"+kind+"'") {
			t.Errorf("%s: no trigger writes it", typ)
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
