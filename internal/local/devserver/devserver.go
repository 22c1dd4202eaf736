// Package devserver is the local development stack behind `make dev`: the admin API's
// handlers served over HTTP with a bearer token standing in for the JWT authorizer,
// executions run in the local ASL engine, every function on the local Lambda Invoke API,
// e-mail to a local SES v2 outbox (or an AWS API emulator) and contracts to a Stellar RPC
// double, with a page to follow each execution state by state.
package devserver

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/google/uuid"
	"github.com/rs/cors"

	"github.com/healthstack/tenant-provisioning/internal/api"
	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/auditchain"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/local/asl"
	"github.com/healthstack/tenant-provisioning/internal/local/devstack"
	"github.com/healthstack/tenant-provisioning/internal/local/execution"
	"github.com/healthstack/tenant-provisioning/internal/local/handlers"
	"github.com/healthstack/tenant-provisioning/internal/local/lambdaapi"
	"github.com/healthstack/tenant-provisioning/internal/local/sesoutbox"
	"github.com/healthstack/tenant-provisioning/internal/outbox"
	"github.com/healthstack/tenant-provisioning/internal/reconcile"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

// The scopes of the admin routes, locally as behind the JWT authorizer: the admin scope
// grants every route, the read scope the GET routes only.
const (
	AdminScope = "tenants/admin"
	ReadScope  = "tenants/read"
)

// The HTTP API's CORS (template.yaml's AdminApi CorsConfiguration, which a test holds to
// these): a page from APP_BASE_URL's origin, the activation page's, may POST JSON across
// origins; no other origin may, and no request may carry Authorization, so no page can
// call an admin route.
var (
	CORSMethods = []string{"POST", "OPTIONS"}
	CORSHeaders = []string{"content-type"}
)

// CORSMaxAge is how long, in seconds, a browser may keep a preflight's answer.
const CORSMaxAge = 600

// localAppBaseURL is where make dev serves the activation page (APP_BASE_URL's default).
const localAppBaseURL = "http://localhost:3000"

// Config says where the local stack listens and what it uses.
type Config struct {
	DatabaseURL string
	// Addresses: the admin API and execution pages, the Lambda Invoke API, the Stellar RPC
	// double and the SES outbox. Port 0 picks a free port.
	APIAddr, InvokeAddr, StellarAddr, OutboxAddr string
	// Outbox sends e-mail to a local SES v2 outbox, kept as .eml files in OutboxDir;
	// otherwise e-mail goes where the environment says (an AWS API emulator).
	Outbox    bool
	OutboxDir string
	// AdminToken is the bearer token with the admin scope; ViewerToken authenticates
	// without it (to see a 403). Empty: generated.
	AdminToken, ViewerToken string
	Log                     *slog.Logger
	// Clock paces the executions' waits and retries; nil is real time.
	Clock asl.Clock
	// Wrap, if set, wraps the functions before they run (tests inject faults with it).
	Wrap func(catalog map[string]lambda.Handler) map[string]lambda.Handler
	// ReconcileEvery runs the reconciler on a timer, as the schedule does in AWS (0: only
	// when invoked, through the Lambda Invoke API or Server.Reconciler).
	ReconcileEvery time.Duration
	// ReconcileStaleAfter is the reconciler's StaleAfter (0: its default).
	ReconcileStaleAfter time.Duration
	// Audit is the audit chain's signing key and bucket in an AWS API emulator: the sealer
	// runs every SealEvery (0: only when invoked) and GET /admin/audit/verification checks
	// the trail. Nil: records are kept and shown, neither sealed nor signed.
	Audit     *config.AuditChain
	SealEvery time.Duration
	// EventBusName is the EventBridge bus (at AWS_ENDPOINT_URL) the publisher sends the
	// lifecycle events to; empty: they stay in the outbox, which /dev/events shows.
	EventBusName string
	// PublishEvery runs the publisher on a timer, as its schedule does in AWS (0: only when
	// invoked, through the Lambda Invoke API or Server.Publisher).
	PublishEvery time.Duration
}

// Server is the running stack.
type Server struct {
	Stack  *devstack.Stack
	Runner *execution.Runner
	// Upgrades runs the upgrade state machine's executions.
	Upgrades   *execution.Runner
	Reconciler *reconcile.Reconciler
	Sealer     *auditchain.Sealer // nil without Config.Audit
	// Publisher sends the lifecycle events to Config.EventBusName; nil without one.
	Publisher *outbox.Publisher
	Outbox    *sesoutbox.Outbox // nil when e-mail goes to an AWS API emulator
	// URLs of what it serves, and the tokens.
	APIURL, InvokeURL, OutboxURL string
	// AppOrigin is APP_BASE_URL's origin, the one CORS lets POST to /activation.
	AppOrigin               string
	AdminToken, ViewerToken string
	servers                 []*http.Server
	stops                   []func() // the timers' (the reconciler's, the sealer's)
	verifier                *auditchain.Verifier
	log                     *slog.Logger
}

// Start brings the stack up; Close takes it down.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	s := &Server{AdminToken: cfg.AdminToken, ViewerToken: cfg.ViewerToken, log: cmp.Or(cfg.Log, slog.Default())}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.AdminToken == "" {
		s.AdminToken = newToken()
	}
	if s.ViewerToken == "" {
		s.ViewerToken = newToken()
	}

	opts := devstack.Options{DatabaseURL: cfg.DatabaseURL, Log: cfg.Log, Contracts: devstack.ContractsFromEnv, StellarAddr: cfg.StellarAddr}
	if cfg.Outbox {
		// E-mail goes to the local outbox, through the real SES v2 client.
		if s.Outbox, err = sesoutbox.New(cfg.OutboxDir, sesoutbox.WithAutoVerify()); err != nil {
			return nil, err
		}
		if s.OutboxURL, err = s.serve(cfg.OutboxAddr, s.Outbox); err != nil {
			return nil, err
		}
		ses := sesv2.New(sesv2.Options{Region: "local", BaseEndpoint: aws.String(s.OutboxURL), Credentials: aws.AnonymousCredentials{}})
		mailCfg, err := config.LoadLocalEmail("noreply@tenant-provisioning.localhost", localAppBaseURL)
		if err != nil {
			return nil, err
		}
		opts.Mailer, opts.Email = email.NewSender(ses, mailCfg.From, mailCfg.ConfigurationSet), mailCfg
	}
	if s.AppOrigin, err = originOf(cmp.Or(opts.Email.AppBaseURL, os.Getenv("APP_BASE_URL"), localAppBaseURL)); err != nil {
		return nil, err
	}
	if s.Stack, err = devstack.Start(ctx, opts); err != nil {
		return nil, err
	}
	if cfg.Audit != nil {
		if err := s.auditChain(ctx, *cfg.Audit); err != nil {
			return nil, err
		}
	}
	functions := s.Stack.Catalog
	if cfg.Wrap != nil {
		functions = cfg.Wrap(functions)
	}
	if s.Runner, err = execution.NewRunner(functions, execution.Options{Clock: cfg.Clock}); err != nil {
		return nil, err
	}
	if s.Upgrades, err = execution.NewUpgradeRunner(functions, execution.Options{Clock: cfg.Clock}); err != nil {
		return nil, err
	}
	// Each route is served as deployed, by a handler whose pool logs in as the route's
	// database user: the reads', the writes' or the activation's.
	apis := map[catalog.DBUser]*api.Handler{}
	for _, u := range []catalog.DBUser{catalog.APIReadUser, catalog.APIWriteUser, catalog.ActivationUser} {
		steps := s.Stack.StepsAs(u)
		apiCfg := api.Config{
			Store: store.New(s.Stack.PoolAs(u)), Starter: runnerStarter{s.Runner}, Describer: runnerDescriber{s.Runner},
			Upgrades: runnerUpgrades{s.Upgrades},
			Archiver: steps, Activations: steps, Log: cfg.Log, RequiredScope: AdminScope, ReadScope: ReadScope,
		}
		if s.verifier != nil {
			apiCfg.AuditVerifier = s.verifier
		}
		if apis[u], err = api.New(apiCfg); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	// What no route matches gets the API's own 404 or 405 problem.
	mux.Handle("/admin/", apis[catalog.APIWriteUser].HTTP(s.claims))
	all := map[string]lambda.Handler{}
	for _, f := range catalog.Routes {
		h := apis[f.DBUser()]
		mux.Handle(f.Route, h.HTTP(s.claims))
		all[f.LogicalID] = handlers.API(h)[f.LogicalID]
	}
	// The page the activation link opens (APP_BASE_URL/activate).
	mux.HandleFunc("GET /activate", serveActivationPage)
	mux.HandleFunc("GET /activate.js", serveActivationPage)
	executions := viewer(s.Runner, s.Upgrades)
	mux.Handle("/executions", executions)
	mux.Handle("/executions/", executions)
	mux.Handle("/executions.json", executions)
	mux.Handle("GET /audit", auditPage{pool: s.Stack.PoolAs(catalog.APIReadUser), verifier: s.verifier})
	if s.Outbox != nil {
		mux.Handle("/outbox", s.Outbox)
		mux.Handle("/outbox/", s.Outbox)
	}
	mux.Handle("GET /dev/events", eventsPage(store.New(s.Stack.Pool)))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/executions", http.StatusFound) })
	// API Gateway answers preflights itself, for every route, before any authorizer.
	withCORS := cors.New(cors.Options{AllowedOrigins: []string{s.AppOrigin}, AllowedMethods: CORSMethods,
		AllowedHeaders: CORSHeaders, MaxAge: CORSMaxAge}).Handler(mux)
	if s.APIURL, err = s.serve(cfg.APIAddr, withCORS); err != nil {
		return nil, err
	}
	s.Reconciler = &reconcile.Reconciler{Store: store.New(s.Stack.PoolAs(catalog.ReconcilerUser)),
		Rollback: s.Stack.StepsAs(catalog.ReconcilerUser), Executions: s.Runner,
		Log: cfg.Log, StaleAfter: cfg.ReconcileStaleAfter}
	if cfg.ReconcileEvery > 0 {
		// Its report is in its log line; a failed run is tried again next tick.
		// As its Lambda runs it: what it changes is recorded as the reconciler's.
		run := audit.As(catalog.Reconcile.LogicalID, s.Reconciler.Run)
		s.every(cfg.ReconcileEvery, func(ctx context.Context) { _, _ = run(ctx, reconcile.Input{}) })
	}
	if s.Sealer != nil && cfg.SealEvery > 0 {
		s.every(cfg.SealEvery, func(ctx context.Context) { _, _ = s.Sealer.Seal(ctx, auditchain.Input{}) })
	}
	if cfg.EventBusName != "" {
		awsCfg, err := wiring.AWSConfig(ctx)
		if err != nil {
			return nil, err
		}
		s.Publisher = &outbox.Publisher{Store: store.New(s.Stack.PoolAs(catalog.PublisherUser)),
			Bus: eventbridge.NewFromConfig(awsCfg), BusName: cfg.EventBusName, Log: cfg.Log}
		if cfg.PublishEvery > 0 {
			s.every(cfg.PublishEvery, func(ctx context.Context) { _, _ = s.Publisher.Publish(ctx, outbox.Input{}) })
		}
	}
	// Every function, as `sam local start-lambda` serves them: the steps, the API routes,
	// the reconciler, the sealer and the publisher (when they have a key and a bus).
	maps.Copy(all, functions)
	maps.Copy(all, handlers.Reconcile(s.Reconciler))
	if s.Sealer != nil {
		maps.Copy(all, handlers.Auditor(s.Sealer))
	}
	if s.Publisher != nil {
		maps.Copy(all, handlers.Publisher(s.Publisher))
	}
	if s.InvokeURL, err = s.serve(cfg.InvokeAddr, lambdaapi.New(all, cfg.Log)); err != nil {
		return nil, err
	}
	return s, nil
}

// every runs fn every d until Close, as a schedule invokes a function in AWS.
func (s *Server) every(d time.Duration, fn func(context.Context)) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(d)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				fn(context.Background())
			}
		}
	}()
	s.stops = append(s.stops, func() { close(stop); <-done })
}

// Close stops the servers and the stack.
func (s *Server) Close() {
	for _, stop := range s.stops {
		stop()
	}
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	if s.Stack != nil {
		s.Stack.Close()
	}
}

func (s *Server) serve(addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// claims stands in for the HTTP API's JWT authorizer: the admin token carries the admin
// scope, the viewer token the read scope (it reads, and a write is 403), and anything else
// is unauthenticated (nil claims → 401).
// LocalIssuer is the issuer the local tokens' claims name, as a JWT authorizer passes a
// token's iss: the audit trail records an admin as issuer and subject.
const LocalIssuer = "https://tenant-provisioning.localhost"

func (s *Server) claims(r *http.Request) (*events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, error) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !ok:
		return nil, nil
	case subtle.ConstantTimeCompare([]byte(token), []byte(s.AdminToken)) == 1:
		return &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
			Claims: map[string]string{"iss": LocalIssuer, "sub": "local-admin", "scope": AdminScope}, Scopes: []string{AdminScope}}, nil
	case subtle.ConstantTimeCompare([]byte(token), []byte(s.ViewerToken)) == 1:
		return &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
			Claims: map[string]string{"iss": LocalIssuer, "sub": "local-viewer", "scope": ReadScope}, Scopes: []string{ReadScope}}, nil
	}
	return nil, nil
}

// originOf is a URL's origin, scheme://host[:port], as a browser sends it in Origin.
func originOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("APP_BASE_URL must be an absolute URL")
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

//go:embed activate.html
var activatePage []byte

//go:embed activate.js
var activateScript []byte

// serveActivationPage serves the page the welcome e-mail's link opens, and its script. The
// policy allows nothing but this origin's own script and the POST to /activation.
func serveActivationPage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasSuffix(r.URL.Path, ".js") {
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(activateScript)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(activatePage)
}

// runnerStarter starts executions in the local engine for the API, as workflow.Client
// does in Step Functions.
type runnerStarter struct{ r *execution.Runner }

func (a runnerStarter) Start(ctx context.Context, id uuid.UUID, name string) (api.Started, error) {
	run, started, err := a.r.StartNamed(ctx, name, id)
	if err != nil {
		return api.Started{}, err
	}
	return api.Started{ExecutionArn: run.Snapshot().Arn, AlreadyStarted: !started}, nil
}

// runnerDescriber reports a local execution's status for the status route.
type runnerDescriber struct{ r *execution.Runner }

func (a runnerDescriber) Describe(_ context.Context, arn string) (api.ExecutionStatus, error) {
	name := arn[strings.LastIndexByte(arn, ':')+1:]
	run, ok := a.r.Get(name)
	if !ok {
		return api.ExecutionStatus{}, errors.New("no such local execution")
	}
	e := run.Snapshot()
	st := api.ExecutionStatus{Status: string(e.Status), StartedAt: e.StartDate, Error: e.Error, Cause: e.Cause}
	if !e.StopDate.IsZero() {
		st.StoppedAt = &e.StopDate
	}
	return st, nil
}

// runnerUpgrades starts and follows upgrade runs' executions in the local engine for the
// API, as workflow.Client does in Step Functions.
type runnerUpgrades struct{ r *execution.Runner }

func (a runnerUpgrades) StartUpgrade(ctx context.Context, runID uuid.UUID) (api.Started, error) {
	run, started, err := a.r.StartUpgrade(ctx, runID)
	if err != nil {
		return api.Started{}, err
	}
	return api.Started{ExecutionArn: run.Snapshot().Arn, AlreadyStarted: !started}, nil
}

func (a runnerUpgrades) UpgradeStatus(ctx context.Context, runID uuid.UUID) (string, error) {
	return a.r.ExecutionStatus(ctx, runID.String())
}
