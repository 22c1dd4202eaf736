package execution

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/deadline"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/local/asl"
	"github.com/healthstack/tenant-provisioning/internal/local/devstack"
	"github.com/healthstack/tenant-provisioning/internal/local/handlers"
	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
	"github.com/healthstack/tenant-provisioning/internal/local/stellarrpc"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
	"github.com/healthstack/tenant-provisioning/internal/testkit/faultinject"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testlog"
	"github.com/healthstack/tenant-provisioning/statemachine"
)

// world is the whole local pipeline: real handlers on a fresh PostgreSQL database, SES in
// the AWS API emulator, contracts on a Stellar RPC double, run by the local engine on the
// real definition with a clock that skips the retry waits.
type world struct {
	t     *testing.T
	ctx   context.Context
	stack *devstack.Stack
	logs  *testlog.Buffer
	ops   string
}

func newWorld(t *testing.T) *world { return newWorldWith(t, nil) }

// newWorldWith is newWorld with the dev stack's options edited first.
func newWorldWith(t *testing.T, edit func(*devstack.Options)) *world {
	t.Helper()
	_, url := testdb.NewWithURL(t)
	ses := sesv2.NewFromConfig(awstest.Config(t))
	from := awstest.UniqueName("noreply") + "@provisioning.example"
	if _, err := ses.CreateEmailIdentity(context.Background(), &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
		t.Fatal(err)
	}
	ops := awstest.UniqueName("ops") + "@provisioning.example"
	log, logs := testlog.JSON()
	opts := devstack.Options{
		DatabaseURL: url,
		Log:         log,
		Mailer:      email.NewSender(ses, from, ""),
		Email: config.Email{AppBaseURL: "https://app.health.example",
			TenantURLTemplate: "https://app.health.example/t/{tenantId}", OpsAddress: ops, ActivationTTL: time.Hour},
		Contracts: devstack.ContractsDouble,
	}
	if edit != nil {
		edit(&opts)
	}
	stack, err := devstack.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return &world{t: t, ctx: ctx, stack: stack, logs: logs, ops: ops}
}

// reserve reserves a tenant whose admin has a unique address (the e-mails sent to it are
// told apart from other tests' in the shared emulator), and returns that address.
func (w *world) reserve(name string) (tenant.Tenant, string) {
	w.t.Helper()
	admin := awstest.UniqueName("admin") + "@clinic.example"
	reg, err := tenant.Registration{Name: name, AdminEmail: admin, AdminFirstName: "Quinnzz", AdminLastName: "Medicinezz"}.Normalize()
	if err != nil {
		w.t.Fatal(err)
	}
	tn, err := store.New(w.stack.Pool).Reserve(w.ctx, reg)
	if err != nil {
		w.t.Fatal(err)
	}
	return tn, admin
}

// provision reserves a tenant with a unique admin address and runs its execution to the end
// with the given faults.
func (w *world) provision(name string, faults map[string]faultinject.Plan) (tenant.Tenant, asl.Execution, string) {
	w.t.Helper()
	tn, admin := w.reserve(name)
	st := store.New(w.stack.Pool)
	runner, err := NewRunner(faultinject.Wrap(w.stack.Catalog, faults), Options{Clock: asl.NewFastClock()})
	if err != nil {
		w.t.Fatal(err)
	}
	run, started, err := runner.Start(w.ctx, tn.ID)
	if err != nil || !started {
		w.t.Fatalf("start: %v, %v", started, err)
	}
	exec := run.Wait()
	if again, started, err := runner.Start(w.ctx, tn.ID); err != nil || started || again != run {
		w.t.Errorf("second start of the same tenant: started=%v err=%v", started, err)
	}
	if tn, err = st.Get(w.ctx, tn.ID); err != nil {
		w.t.Fatal(err)
	}
	return tn, exec, admin
}

var happyRoute = []string{"CreateTenantRecord", "CreateSchema", "RunMigrations", "SeedRolesAndUser",
	"DeploySorobanContract", "StoreContractAddress", "ActivateTenant", "SendWelcomeEmail", "Provisioned"}

// stepOf maps each Task state to its function and its provisioning_logs step name.
var stepOf = map[string]struct{ function, step string }{
	"CreateTenantRecord":    {catalog.CreateTenantRecord.LogicalID, catalog.CreateTenantRecord.Log},
	"CreateSchema":          {catalog.CreateSchema.LogicalID, catalog.CreateSchema.Log},
	"RunMigrations":         {catalog.RunMigrations.LogicalID, catalog.RunMigrations.Log},
	"SeedRolesAndUser":      {catalog.SeedRolesAndUser.LogicalID, catalog.SeedRolesAndUser.Log},
	"DeploySorobanContract": {catalog.DeploySorobanContract.LogicalID, catalog.DeploySorobanContract.Log},
	"StoreContractAddress":  {catalog.StoreContractAddress.LogicalID, catalog.StoreContractAddress.Log},
	"SendWelcomeEmail":      {catalog.SendWelcomeEmail.LogicalID, catalog.SendWelcomeEmail.Log},
	"ActivateTenant":        {catalog.ActivateTenant.LogicalID, catalog.ActivateTenant.Log},
}

func (w *world) schemaAndRole(name string) (bool, bool) {
	w.t.Helper()
	var schema, role bool
	err := w.stack.Pool.QueryRow(w.ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
		EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&schema, &role)
	if err != nil {
		w.t.Fatal(err)
	}
	return schema, role
}

func TestHappyPathEndsActive(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tn, exec, admin := w.provision("Happy Path Clinic", nil)
	if exec.Status != asl.StatusSucceeded || !slices.Equal(exec.Route(), happyRoute) {
		t.Fatalf("execution %s via %v: %s %s", exec.Status, exec.Route(), exec.Error, exec.Cause)
	}
	if tn.Status != tenant.StatusActive || tn.ContractID == "" || tn.CompletedAt == nil {
		t.Errorf("tenant = %s, contract %q", tn.Status, tn.ContractID)
	}
	logs, err := store.New(w.stack.Pool).Logs(w.ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, l := range logs {
		if l.Status != store.LogCompleted || l.Attempt != 1 {
			t.Errorf("log %s %s attempt %d", l.Step, l.Status, l.Attempt)
		}
		steps = append(steps, l.Step)
	}
	var want []string
	for _, s := range happyRoute[:len(happyRoute)-1] {
		want = append(want, stepOf[s].step)
	}
	if !slices.Equal(steps, want) {
		t.Errorf("logged steps %v, want %v", steps, want)
	}
	if n := len(awstest.SentTo(t, admin)); n != 1 {
		t.Errorf("%d e-mails to the admin, want the welcome", n)
	}
	if !strings.HasSuffix(exec.Arn, ":execution:"+StateMachineName+":"+tn.ID.String()) || tn.ExecutionArn != exec.Arn {
		t.Errorf("execution ARN %s, recorded %s", exec.Arn, tn.ExecutionArn)
	}
}

// A transient failure in any step is retried by the definition's Retry and the tenant still
// ends ACTIVE. The failures come after the step's work committed, as when a response is
// lost, so the retry also shows the step is idempotent in the real flow.
func TestTransientFaultInEachStepIsRetried(t *testing.T) {
	t.Parallel()
	for _, state := range happyRoute[:len(happyRoute)-1] {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			s := stepOf[state]
			tn, exec, _ := w.provision("Retry "+state, map[string]faultinject.Plan{s.function: {Transient: 2, AfterWork: true}})
			if exec.Status != asl.StatusSucceeded || tn.Status != tenant.StatusActive {
				t.Fatalf("execution %s via %v (%s: %s); tenant %s", exec.Status, exec.Route(), exec.Error, exec.Cause, tn.Status)
			}
			var failed int
			for _, ev := range exec.Events {
				if ev.StateName == state && ev.Type == "LambdaFunctionFailed" && ev.Error == "TransientError" {
					failed++
				}
			}
			if failed != 2 {
				t.Errorf("history shows %d failed attempts of %s, want 2", failed, state)
			}
			logs, _ := store.New(w.stack.Pool).Logs(w.ctx, tn.ID)
			var attempts int
			for _, l := range logs {
				if l.Step == s.step {
					attempts++
				}
			}
			if attempts != 3 {
				t.Errorf("%d logged attempts of %s, want 3", attempts, s.step)
			}
		})
	}
}

// A permanent failure in any step up to ActivateTenant goes straight to Rollback and then
// ProvisioningFailed: the tenant ends FAILED with its error, no schema or role is left, and
// the admin is told, never having been sent an activation link first.
func TestPermanentFaultInEachStepRollsBack(t *testing.T) {
	t.Parallel()
	for i, state := range happyRoute[:len(happyRoute)-2] { // all but SendWelcomeEmail, after activation
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			s := stepOf[state]
			tn, exec, admin := w.provision("Doomed "+state, map[string]faultinject.Plan{s.function: {Permanent: true}})
			wantRoute := append(slices.Clone(happyRoute[:i+1]), "Rollback", "ProvisioningFailed")
			if exec.Status != asl.StatusFailed || !slices.Equal(exec.Route(), wantRoute) {
				t.Fatalf("execution %s via %v, want FAILED via %v", exec.Status, exec.Route(), wantRoute)
			}
			if exec.Error != "InvariantError" || !strings.Contains(exec.Cause, "injected permanent fault") {
				t.Errorf("execution error %q cause %q", exec.Error, exec.Cause)
			}
			if tn.Status != tenant.StatusFailed || !strings.Contains(tn.ProvisioningError, "InvariantError") {
				t.Errorf("tenant %s %q", tn.Status, tn.ProvisioningError)
			}
			name := tn.SchemaName
			if name == "" {
				name = tenant.SchemaName(tn.Name, tn.ID)
			}
			if schema, role := w.schemaAndRole(name); schema || role {
				t.Errorf("left behind: schema %v role %v", schema, role)
			}
			var notice bool
			for _, m := range awstest.SentTo(t, admin) {
				notice = notice || strings.Contains(m.Body, tn.ID.String())
				if strings.Contains(m.Body, "activate#") {
					t.Error("the admin was sent an activation link for a tenant that was then rolled back")
				}
			}
			if !notice {
				t.Error("no failure notice to the admin")
			}
			if n := len(awstest.SentTo(t, w.ops)); n != 1 {
				t.Errorf("%d notices to ops", n)
			}
		})
	}
}

// The welcome e-mail comes after activation: when it still fails after its retries the
// tenant stays ACTIVE, nothing is rolled back and no failure notice goes out; the
// execution ends WelcomeEmailNotSent so that operations see it.
func TestWelcomeEmailFailureLeavesTheTenantActive(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tn, exec, admin := w.provision("Unwelcomed Clinic", map[string]faultinject.Plan{catalog.SendWelcomeEmail.LogicalID: {Permanent: true}})
	wantRoute := append(slices.Clone(happyRoute[:len(happyRoute)-1]), "WelcomeEmailNotSent")
	if exec.Status != asl.StatusFailed || !slices.Equal(exec.Route(), wantRoute) || exec.Error != "InvariantError" {
		t.Fatalf("execution %s %s via %v, want FAILED via %v", exec.Status, exec.Error, exec.Route(), wantRoute)
	}
	if schema, role := w.schemaAndRole(tn.SchemaName); tn.Status != tenant.StatusActive || !schema || !role {
		t.Errorf("tenant %s, schema %v, role %v; want ACTIVE with both", tn.Status, schema, role)
	}
	if n := len(awstest.SentTo(t, admin)); n != 0 {
		t.Errorf("%d e-mails to the admin, want none: no welcome, and no failure notice for an ACTIVE tenant", n)
	}
}

// A rollback that keeps failing is retried, then the execution fails with both errors.
func TestFailingRollbackFailsTheExecutionWithBothErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tn, exec, _ := w.provision("Stubborn Clinic", map[string]faultinject.Plan{
		catalog.RunMigrations.LogicalID: {Permanent: true},
		catalog.Rollback.LogicalID:      {Transient: 1000},
	})
	route := exec.Route()
	if exec.Status != asl.StatusFailed || exec.Error != "RollbackFailed" || route[len(route)-1] != "RollbackFailed" {
		t.Fatalf("execution %s %s via %v", exec.Status, exec.Error, route)
	}
	if !strings.Contains(exec.Cause, "InvariantError") || !strings.Contains(exec.Cause, "TransientError") {
		t.Errorf("cause lacks one of the errors: %s", exec.Cause)
	}
	var rollbacks int
	for _, ev := range exec.Events {
		if ev.StateName == "Rollback" && ev.Type == "LambdaFunctionFailed" {
			rollbacks++
		}
	}
	if rollbacks != 5 { // the first attempt and 4 retries
		t.Errorf("rollback attempted %d times, want 5", rollbacks)
	}
	if tn.Status != tenant.StatusProvisioning {
		t.Errorf("tenant %s: a rollback that never ran must not have changed it", tn.Status)
	}
}

// Nothing personal or secret is in execution input, output or history: not the admin's
// e-mail or name, nor the activation token the welcome e-mail carried.
func TestExecutionsCarryNoPersonalData(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	okTenant, ok, admin := w.provision("Private Clinic", nil)
	failedTenant, failed, _ := w.provision("Private Failing Clinic", map[string]faultinject.Plan{catalog.ActivateTenant.LogicalID: {Permanent: true}})
	var token string
	for _, m := range awstest.SentTo(t, admin) {
		if l := regexp.MustCompile(`token=([A-Za-z0-9_-]{43})`).FindStringSubmatch(m.Body); l != nil {
			token = l[1]
		}
	}
	if token == "" {
		t.Fatal("no activation token found in the welcome e-mail; the scan would prove nothing")
	}
	for _, exec := range []asl.Execution{ok, failed} {
		b, err := json.Marshal(exec)
		if err != nil {
			t.Fatal(err)
		}
		all := string(b) + w.logs.String()
		if !strings.Contains(all, "SeedRolesAndUser") {
			t.Fatal("history looks empty")
		}
		// The schema name, derived from the organisation's name (a sole practitioner's
		// clinic carries a person's), stays out of the history too. (The failed tenant's
		// was dropped, its name kept on its row for the record.)
		for _, secret := range []string{admin, "Quinnzz", "Medicinezz", token, "clinic.example", okTenant.SchemaName, failedTenant.SchemaName, "private_clinic", "Private Clinic"} {
			if strings.Contains(all, secret) {
				t.Errorf("%q found in execution %s or the logs", secret, exec.Name)
			}
		}
	}
}

func TestRunnerRefusesMissingHandlers(t *testing.T) {
	t.Parallel()
	_, err := NewRunner(map[string]lambda.Handler{}, Options{})
	if err == nil || !strings.Contains(fmt.Sprint(err), "CreateTenantRecordFunction") {
		t.Errorf("err = %v", err)
	}
}

// holding is a Runner of the world's functions whose function f holds its first invocation
// until the returned blockFirst is released.
func (w *world) holding(t *testing.T, f catalog.Function, opts Options) (*Runner, *blockFirst) {
	t.Helper()
	fns := maps.Clone(w.stack.Catalog)
	hold := &blockFirst{Handler: fns[f.LogicalID], release: make(chan struct{})}
	fns[f.LogicalID] = hold
	runner, err := NewRunner(fns, opts)
	if err != nil {
		t.Fatal(err)
	}
	return runner, hold
}

// blockFirst holds the first invocation of its handler until release is closed.
type blockFirst struct {
	lambda.Handler
	once    atomic.Bool
	release chan struct{}
}

func (b *blockFirst) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if b.once.CompareAndSwap(false, true) {
		<-b.release
	}
	return b.Handler.Invoke(ctx, payload)
}

// The Runner remembers a bounded number of executions: past Keep it forgets the oldest
// finished ones, never one still running.
func TestRunnerForgetsOldFinishedExecutionsOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	runner, hold := w.holding(t, catalog.CreateTenantRecord, Options{Clock: asl.NewFastClock(), Keep: 1})
	start := func(name string) (uuid.UUID, *asl.Running) {
		tn, _ := w.reserve(name)
		run, _, err := runner.Start(w.ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		return tn.ID, run
	}
	held, heldRun := start("Held Clinic") // blocks in its first step: running throughout
	done, doneRun := start("Done Clinic") // runs to the end
	doneRun.Wait()
	latest, latestRun := start("Latest Clinic")
	latestRun.Wait()

	for _, c := range []struct {
		name string
		id   uuid.UUID
		want bool
	}{
		{"running, oldest", held, true},
		{"finished, older than the newest", done, false},
		{"newest", latest, true},
	} {
		if _, ok := runner.Get(c.id.String()); ok != c.want {
			t.Errorf("%s execution remembered = %v, want %v", c.name, ok, c.want)
		}
	}
	if n := len(runner.List()); n != 2 {
		t.Errorf("List has %d executions, want 2", n)
	}
	close(hold.release)
	if ex := heldRun.Wait(); ex.Status != asl.StatusSucceeded {
		t.Errorf("held execution ended %s: %s", ex.Status, ex.Cause)
	}
}

// A second execution for a tenant that is being provisioned, as the console's "New
// execution" with the tenant's input starts one: its claim is refused, its rollback leaves
// the tenant alone and it ends FAILED with the ConflictError; the tenant's own execution
// then reaches ACTIVE with its schema and role intact.
func TestASecondExecutionLeavesTheTenantAlone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// The owner waits in RunMigrations, after CreateSchema: mid-provisioning.
	runner, hold := w.holding(t, catalog.RunMigrations, Options{Clock: asl.NewFastClock()})
	st := store.New(w.stack.Pool)
	tn, _ := w.reserve("Contested Clinic")
	owner, _, err := runner.Start(w.ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	for !hold.once.Load() {
		select {
		case <-owner.Done():
			t.Fatalf("the owner's execution ended before RunMigrations: %+v", owner.Snapshot())
		case <-time.After(time.Millisecond):
		}
	}
	intruder, _, err := runner.StartNamed(w.ctx, "console-"+uuid.NewString(), tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	ex := intruder.Wait()
	if ex.Status != asl.StatusFailed || ex.Error != "ConflictError" ||
		!slices.Equal(ex.Route(), []string{"CreateTenantRecord", "Rollback", "ProvisioningFailed"}) {
		t.Fatalf("second execution: %s %s via %v (%s)", ex.Status, ex.Error, ex.Route(), ex.Cause)
	}
	var rollback pipeline.RollbackOutput
	for _, ev := range ex.Events {
		if ev.Type == asl.LambdaFunctionSucceeded && ev.StateName == "Rollback" {
			if err := json.Unmarshal(ev.Output, &rollback); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rollback.Outcome != pipeline.OutcomeSkipped {
		t.Errorf("the second execution's rollback: %+v, want outcome skipped", rollback)
	}
	mid, err := st.Get(w.ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mid.Status != tenant.StatusProvisioning || mid.ExecutionArn != owner.Snapshot().Arn || mid.ProvisioningError != "" {
		t.Errorf("after the second execution the tenant is %s, owned by %s, error %q", mid.Status, mid.ExecutionArn, mid.ProvisioningError)
	}
	if schema, role := w.schemaAndRole(mid.SchemaName); !schema || !role {
		t.Errorf("after the second execution: schema %v, role %v; both must survive", schema, role)
	}
	var foreign int
	if err := w.stack.Pool.QueryRow(w.ctx, `SELECT count(*) FROM provisioning_logs WHERE tenant_id = $1 AND execution_arn = $2`,
		tn.ID, ex.Arn).Scan(&foreign); err != nil || foreign != 0 {
		t.Errorf("the second execution wrote %d log rows (%v)", foreign, err)
	}

	close(hold.release)
	if ex := owner.Wait(); ex.Status != asl.StatusSucceeded {
		t.Fatalf("the owner's execution: %s %s (%s)", ex.Status, ex.Error, ex.Cause)
	}
	final, err := st.Get(w.ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if schema, role := w.schemaAndRole(final.SchemaName); final.Status != tenant.StatusActive || !schema || !role {
		t.Errorf("tenant %s, schema %v, role %v; want ACTIVE with both", final.Status, schema, role)
	}
}

// With reserved concurrency, as template.yaml gives every function, a burst of
// onboardings is throttled rather than let through to open more connections: the
// invocations beyond a function's containers fail with Lambda.TooManyRequestsException,
// which the definition retries with backoff, and every tenant still ends ACTIVE with no
// rollback. The clock runs 20× fast while the handlers keep their real pace, so the 100 ms
// ledger stands for a 2 s one and a minute of backoff takes 3 s: at 100× a deployment
// slowed by a loaded machine stood for a minute, and a queue of three outlasted the
// 4 minutes of retries, as a queue of deployments that long would in AWS.
func TestThrottledStepsDrainWithoutRollback(t *testing.T) {
	t.Parallel()
	const (
		tenants = 6
		slots   = 2 // each function's reserved concurrency, and the deployer accounts
	)
	w := newWorldWith(t, func(o *devstack.Options) {
		o.DeployerAccounts = slots
		o.StellarOptions = []stellarrpc.Option{stellarrpc.WithLedgerClose(100 * time.Millisecond)}
		o.PollInterval = 5 * time.Millisecond
	})
	limits := map[string]int{}
	for _, f := range append(slices.Clone(catalog.Provisioning), catalog.Rollback) {
		limits[f.LogicalID] = slots
	}
	cat, throttled := handlers.Reserve(w.stack.Catalog, limits)
	runner, err := NewRunner(cat, Options{Clock: &asl.ScaledClock{Factor: 20}})
	if err != nil {
		t.Fatal(err)
	}
	runs := make([]*asl.Running, tenants)
	ids := make([]uuid.UUID, tenants)
	for i := range tenants {
		tn, _ := w.reserve(fmt.Sprintf("Burst Clinic %d", i))
		ids[i] = tn.ID
		if runs[i], _, err = runner.Start(w.ctx, tn.ID); err != nil {
			t.Fatal(err)
		}
	}
	retried := 0
	for i, run := range runs {
		exec := run.Wait()
		if exec.Status != asl.StatusSucceeded || !slices.Equal(exec.Route(), happyRoute) {
			t.Errorf("execution %d: %s via %v (%s: %s)", i, exec.Status, exec.Route(), exec.Error, exec.Cause)
		}
		for _, ev := range exec.Events {
			if ev.Type == "LambdaFunctionFailed" && ev.Error == "Lambda.TooManyRequestsException" {
				retried++
			}
		}
		if tn, err := store.New(w.stack.Pool).Get(w.ctx, ids[i]); err != nil || tn.Status != tenant.StatusActive {
			t.Errorf("tenant %d: %v, %v", i, tn.Status, err)
		}
	}
	if throttled.Load() == 0 || int64(retried) != throttled.Load() {
		t.Errorf("%d invocations throttled, %d throttled attempts in the histories: the burst must be throttled, and every refusal retried", throttled.Load(), retried)
	}
	t.Logf("%d tenants through functions of %d containers each: %d invocations throttled and retried", tenants, slots, retried)
}

// A function Lambda stops at its timeout is retried, not rolled back. Each step in turn
// hangs once after committing its work (the worst moment: ActivateTenant killed after its
// commit used to meet the rollback with an ACTIVE tenant) until the runner times it out as
// Lambda does (Sandbox.Timedout); every tenant still ends ACTIVE, through the happy path.
func TestEveryStepTimedOutOnceStillEndsActive(t *testing.T) {
	t.Parallel()
	// The steps' own timeouts are tens of seconds; this one stops the hung attempt sooner
	// and still leaves the work before it (which stops deadline.Reserve earlier) ample time
	// on a loaded machine.
	const killAfter = deadline.Reserve + 3*time.Second
	w := newWorld(t)
	for _, step := range catalog.Provisioning {
		t.Run(step.State, func(t *testing.T) {
			t.Parallel()
			fns := faultinject.Wrap(w.stack.Catalog, map[string]faultinject.Plan{step.LogicalID: {Hang: 1, AfterWork: true}})
			fns[step.LogicalID] = lambdarun.WithTimeout(fns[step.LogicalID], killAfter)
			runner, err := NewRunner(fns, Options{Clock: asl.NewFastClock()})
			if err != nil {
				t.Fatal(err)
			}
			tn, _ := w.reserve("Timed Out " + step.State)
			run, _, err := runner.Start(w.ctx, tn.ID)
			if err != nil {
				t.Fatal(err)
			}
			exec := run.Wait()
			if exec.Status != asl.StatusSucceeded || !slices.Equal(exec.Route(), happyRoute) {
				t.Fatalf("execution %s via %v (%s: %s)", exec.Status, exec.Route(), exec.Error, exec.Cause)
			}
			timedOut := 0
			for _, ev := range exec.Events {
				if ev.Type == asl.LambdaFunctionFailed && ev.Error == "Sandbox.Timedout" {
					timedOut++
				}
			}
			if timedOut != 1 {
				t.Errorf("%d invocations timed out, want the one hung attempt", timedOut)
			}
			if got, err := store.New(w.stack.Pool).Get(w.ctx, tn.ID); err != nil || got.Status != tenant.StatusActive {
				t.Errorf("tenant %s (%v), want ACTIVE", got.Status, err)
			}
		})
	}
}

// A deploy while an execution runs leaves that execution on its release, as Step Functions
// does with a definition that names function versions: it finishes with the definition
// and the handlers it started with, and only an execution started after the deploy runs
// the new ones.
func TestADeployLeavesRunningExecutionsOnTheirRelease(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	runner, hold := w.holding(t, catalog.CreateTenantRecord, Options{Clock: asl.NewFastClock()})
	before, _ := w.reserve("Before The Deploy Clinic")
	running, _, err := runner.Start(w.ctx, before.ID)
	if err != nil {
		t.Fatal(err)
	}

	// The next release: one state more, and handlers that count their invocations.
	var def map[string]any
	if err := json.Unmarshal(statemachine.Provisioning, &def); err != nil {
		t.Fatal(err)
	}
	states := def["States"].(map[string]any)
	states["ActivateTenant"].(map[string]any)["Next"] = "SecondRelease"
	states["SecondRelease"] = map[string]any{"Type": "Pass", "Next": "SendWelcomeEmail"}
	definition, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	var newCalls atomic.Int64
	next := map[string]lambda.Handler{}
	for id, h := range w.stack.Catalog {
		next[id] = counting{Handler: h, n: &newCalls}
	}
	if err := runner.Deploy(definition, next); err != nil {
		t.Fatal(err)
	}
	close(hold.release)

	if e := running.Wait(); e.Status != asl.StatusSucceeded || !slices.Equal(e.Route(), happyRoute) {
		t.Errorf("the execution running at the deploy went %s via %v, want its own release's happy path", e.Status, e.Route())
	}
	if n := newCalls.Load(); n != 0 {
		t.Errorf("the execution running at the deploy invoked the new release's functions %d times", n)
	}
	after, _ := w.reserve("After The Deploy Clinic")
	started, _, err := runner.Start(w.ctx, after.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e := started.Wait(); e.Status != asl.StatusSucceeded || !slices.Contains(e.Route(), "SecondRelease") || newCalls.Load() == 0 {
		t.Errorf("the execution started after the deploy went %s via %v with %d new invocations, want the new release", e.Status, e.Route(), newCalls.Load())
	}
}

// counting counts its handler's invocations.
type counting struct {
	lambda.Handler
	n *atomic.Int64
}

func (c counting) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	c.n.Add(1)
	return c.Handler.Invoke(ctx, payload)
}
