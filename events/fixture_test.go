package events_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stellar/go/keypair"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/auditchain"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/local/handlers"
	"github.com/healthstack/tenant-provisioning/internal/local/sesoutbox"
	"github.com/healthstack/tenant-provisioning/internal/local/stellarrpc"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/reconcile"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
	"github.com/healthstack/tenant-provisioning/internal/testkit/bustest"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testlog"
	"github.com/healthstack/tenant-provisioning/internal/upgrade"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
	"github.com/healthstack/tenant-provisioning/internal/workflow"
	"github.com/healthstack/tenant-provisioning/statemachine"
)

// The settings the functions get from infra/sam-local/env.json, where the test needs them.
const (
	sesFrom    = "noreply@tenant-provisioning.localhost"
	appBaseURL = "http://localhost:3000"
	adminScope = "tenants/admin"
)

// fixtureDeployer is the deployer account the sample contract id belongs to: the events'
// StoreContractAddressFunction input is exactly what DeploySorobanContractFunction returns
// for the example tenant with this key on the Stellar RPC double's standalone network. The
// key is derived from a public string, so it is worth nothing anywhere.
func fixtureDeployer(t *testing.T) *keypair.Full {
	t.Helper()
	kp, err := keypair.FromRawSeed(sha256.Sum256([]byte("tenant-provisioning/events/fixture-deployer")))
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// event is one events/<LogicalId>/event.json.
type event struct {
	function string
	path     string
	raw      []byte
}

// fields decodes the event as a JSON object, reporting an error (and false) when it is not.
func (ev event) fields(t *testing.T) (map[string]json.RawMessage, bool) {
	t.Helper()
	var in map[string]json.RawMessage
	if err := json.Unmarshal(ev.raw, &in); err != nil {
		t.Errorf("%s: %v", ev.path, err)
		return nil, false
	}
	return in, true
}

// loadEvents reads every events/*/event.json and fails on a folder without one.
func loadEvents(t *testing.T) map[string]event {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	evs := map[string]event{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(e.Name(), "event.json")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("events/%s has no event.json: %v", e.Name(), err)
			continue
		}
		if !json.Valid(raw) {
			t.Errorf("events/%s is not valid JSON", path)
			continue
		}
		evs[e.Name()] = event{function: e.Name(), path: "events/" + path, raw: raw}
	}
	return evs
}

// decodeStrict decodes raw into v, refusing fields v does not have: the runtime would
// silently drop a misspelt field, and the event would test less than it seems to.
func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// fixture is what the functions run on, wired as their mains wire them
// (internal/wiring), with local stand-ins for the outside services: a throw-away
// PostgreSQL database, the SES v2 outbox for e-mail, the Stellar RPC double for contracts,
// and Step Functions in the AWS API emulator (AWS_ENDPOINT_URL).
type fixture struct {
	pool     *pgxpool.Pool
	store    *store.Store
	steps    *pipeline.Steps
	outbox   *sesoutbox.Outbox
	logs     *testlog.Buffer
	sfn      *sfn.Client
	workflow *workflow.Client
	bus      *bustest.Bus
	// stateMachineArn and upgradeStateMachineArn are the test's own provisioning and
	// upgrade state machines in the emulator.
	stateMachineArn, upgradeStateMachineArn string
	// catalog holds every function the events are for, by logical id.
	catalog map[string]lambda.Handler
}

func newFixture(ctx context.Context, t *testing.T, eventsStateMachine string) *fixture {
	t.Helper()
	f := &fixture{logs: &testlog.Buffer{}}
	log := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.pool = testdb.New(t)
	f.store = store.New(f.pool)

	// E-mail: the real SES v2 client and sender, to the local outbox.
	var err error
	if f.outbox, err = sesoutbox.New("", sesoutbox.WithAutoVerify()); err != nil {
		t.Fatal(err)
	}
	sesSrv := httptest.NewServer(f.outbox)
	t.Cleanup(sesSrv.Close)
	ses := sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(sesSrv.URL), Credentials: aws.AnonymousCredentials{}})
	mailer := email.NewSender(ses, sesFrom, "")
	mail := config.Email{
		AppBaseURL:        appBaseURL,
		TenantURLTemplate: appBaseURL + "/t/{tenantId}",
		ActivationTTL:     72 * time.Hour,
	}

	// Contracts: the deployer the Lambda builds from SOROBAN_DEPLOYER_SEED, on the double.
	double := stellarrpc.New(config.PassphraseLocal)
	rpcSrv := httptest.NewServer(double)
	t.Cleanup(func() { rpcSrv.Close(); _ = double.Close() })
	signer := fixtureDeployer(t)
	double.Fund(signer.Address(), 10_000_0000000)
	deployer, err := wiring.NewDeployer(ctx, config.Soroban{
		RPCURL: rpcSrv.URL, Network: "local", Passphrase: config.PassphraseLocal,
		DeployerSeed: signer.Seed(), ConfirmTimeout: 30 * time.Second,
	}, aws.Config{}, f.pool)
	if err != nil {
		t.Fatalf("contract deployer: %v", err)
	}
	f.steps = pipeline.New(f.pool, log, pipeline.WithEmail(mailer, mail), pipeline.WithContracts(deployer))

	// Step Functions: the definitions SAM deploys, as state machines of the test's own in
	// the emulator (which never runs them: the test invokes each step itself).
	upgrader := upgrade.New(f.pool, log)
	f.sfn = sfn.NewFromConfig(awstest.Config(t))
	f.stateMachineArn = createStateMachine(t, statemachine.Provisioning, handlers.Names(handlers.Pipeline(f.steps)))
	if f.workflow, err = workflow.New(f.sfn, f.stateMachineArn); err != nil {
		t.Fatal(err)
	}
	f.upgradeStateMachineArn = createStateMachine(t, statemachine.Upgrade, handlers.Names(handlers.Upgrade(upgrader)))
	upgradeWorkflow, err := workflow.New(f.sfn, f.upgradeStateMachineArn)
	if err != nil {
		t.Fatal(err)
	}
	awsCfg, trail := awstest.Config(t), awstest.NewAuditChain(t)
	h, err := api.New(api.Config{
		Store: f.store, Archiver: f.steps, Activations: f.steps, Log: log, RequiredScope: adminScope,
		Starter:       wiring.Starter(f.workflow),
		Describer:     describer{c: f.workflow, eventsStateMachine: eventsStateMachine, testStateMachine: f.stateMachineArn},
		Upgrades:      wiring.Upgrades(upgradeWorkflow),
		AuditVerifier: wiring.AuditVerifier(awsCfg, trail, f.store),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.catalog = handlers.Pipeline(f.steps)
	for name, fn := range handlers.API(h) {
		f.catalog[name] = fn
	}
	for name, fn := range handlers.Upgrade(upgrader) {
		f.catalog[name] = fn
	}
	rec := &reconcile.Reconciler{Store: f.store, Rollback: f.steps, Executions: f.workflow, Log: log}
	for name, fn := range handlers.Reconcile(rec) {
		f.catalog[name] = fn
	}
	sealer := &auditchain.Sealer{Chain: f.store, Signer: kms.NewFromConfig(awsCfg), Bucket: wiring.S3(awsCfg),
		KeyID: trail.KeyID, BucketName: trail.Bucket, Log: log}
	for name, fn := range handlers.Auditor(sealer) {
		f.catalog[name] = fn
	}
	// Lifecycle events: the publisher, on a bus of the test's own whose events reach a queue.
	f.bus = bustest.New(t)
	for name, fn := range handlers.Publisher(f.bus.Publisher(store.New(f.pool), log)) {
		f.catalog[name] = fn
	}
	return f
}

// createStateMachine creates a state machine of definition under a name of the test's
// own, with each ${<LogicalId>Arn} of the functions names substituted as SAM's
// DefinitionSubstitutions would.
func createStateMachine(t *testing.T, definition []byte, names []string) string {
	t.Helper()
	def := string(definition)
	for _, name := range names {
		def = strings.ReplaceAll(def, "${"+name+"Arn}", "arn:aws:lambda:us-east-1:123456789012:function:"+name)
	}
	if strings.Contains(def, "${") {
		t.Fatalf("the state machine definition names a function the catalogue lacks")
	}
	_, arn := awstest.StateMachine(t, def)
	return arn
}

// describer reads executions for the status route through wiring.Describer, except that
// an execution of the state machine the events name (the deployed one, in the events'
// account) is read from the test's own state machine, where the test started the execution
// of the same name.
type describer struct {
	c                                    *workflow.Client
	eventsStateMachine, testStateMachine string
}

func (d describer) Describe(ctx context.Context, arn string) (api.ExecutionStatus, error) {
	prefix, err := workflow.ExecutionArn(d.eventsStateMachine, "x")
	if err != nil {
		return api.ExecutionStatus{}, err
	}
	if name, ok := strings.CutPrefix(arn, strings.TrimSuffix(prefix, "x")); ok {
		if arn, err = workflow.ExecutionArn(d.testStateMachine, name); err != nil {
			return api.ExecutionStatus{}, err
		}
	}
	return wiring.Describer(d.c).Describe(ctx, arn)
}

// workflowArn is the ARN of the execution called name of the test's state machine.
func (f *fixture) workflowArn(name string) (string, error) {
	return workflow.ExecutionArn(f.stateMachineArn, name)
}

// runSQL runs one of the events' SQL files on the fixture's database.
func (f *fixture) runSQL(ctx context.Context, t *testing.T, file string) {
	t.Helper()
	sql, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, string(sql)); err != nil {
		t.Fatalf("events/%s: %v", file, err)
	}
}

// sentTo lists the subjects of the e-mail the outbox accepted for addr.
func (f *fixture) sentTo(addr string) []string {
	var subjects []string
	for _, m := range f.outbox.SentTo(addr) {
		subjects = append(subjects, m.Subject)
	}
	slices.Sort(subjects)
	return subjects
}
