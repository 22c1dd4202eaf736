// Package devstack wires the pipeline for a developer machine: the same step handlers the
// Lambda mains use, on local PostgreSQL, with e-mail going to SES in an AWS API emulator
// (moto_server, LocalStack) and contracts to a Stellar RPC double, or to whatever real
// endpoints the environment names.
package devstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	client "github.com/stellar/go/clients/rpcclient"
	"github.com/stellar/go/keypair"

	anchor "github.com/healthstack/tenant-provisioning/contracts/tenant-anchor"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/local/handlers"
	"github.com/healthstack/tenant-provisioning/internal/local/stellarrpc"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/soroban"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/upgrade"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

// Contracts says where contracts go.
type Contracts int

const (
	// ContractsFromEnv uses SOROBAN_RPC_URL when set, else a local Stellar RPC double.
	ContractsFromEnv Contracts = iota
	// ContractsDouble always uses a local Stellar RPC double.
	ContractsDouble
	// ContractsNone leaves contract deployment unconfigured.
	ContractsNone
)

// Options configure Start.
type Options struct {
	DatabaseURL string
	Log         *slog.Logger
	// Mailer, when set, sends the e-mail, with Email's settings; nil reads both from the
	// environment (SES at AWS_ENDPOINT_URL when it and SES_FROM_ADDRESS are set, else no
	// e-mail).
	Mailer    pipeline.Mailer
	Email     config.Email
	NoEmail   bool
	Contracts Contracts
	// StellarAddr is where the Stellar RPC double listens (default 127.0.0.1:0, any port).
	StellarAddr string
	// DeployerAccounts is the double's pool of funded deployer accounts (0: one).
	DeployerAccounts int
	// StellarOptions configure the double (e.g. stellarrpc.WithLedgerClose).
	StellarOptions []stellarrpc.Option
	// PollInterval is the deployer's pause between status checks on the double (0:
	// localPollInterval); with a ledger close, a fraction of it.
	PollInterval time.Duration
}

// Stack is the wired pipeline.
type Stack struct {
	// Pool is DATABASE_URL's user's: it migrates the control plane, and tools and tests
	// seed and inspect through it. The functions use PoolAs: each kind of function logs
	// in as its own database user, as deployed.
	Pool *pgxpool.Pool
	// Steps are the provisioning steps, as the provisioning user (StepsAs).
	Steps *pipeline.Steps
	// Upgrader runs the upgrade state machine's steps.
	Upgrader *upgrade.Upgrader
	// Catalog serves every state machine's functions by logical id.
	Catalog map[string]lambda.Handler
	// Notes say what was configured where, for people to read.
	Notes []string
	// Unconfigured names the functions that lack their backing service, with the reason.
	Unconfigured map[string]string
	// Stellar is the local double, when one runs.
	Stellar *stellarrpc.Server
	closers []func()

	databaseURL string
	log         *slog.Logger
	pools       map[catalog.DBUser]*pgxpool.Pool
	stepOpts    []pipeline.Option
}

// userPoolConns is the size of a function user's pool. Connections open when first used,
// so the users a run does not need cost nothing.
const userPoolConns = 8

// PoolAs is a pool that logs in as database user u (one per user, opened on first use),
// as a function of u's kind does deployed; the local server trusts the users, which the
// control-plane migration created. It panics on a user the catalogue does not list.
func (s *Stack) PoolAs(u catalog.DBUser) *pgxpool.Pool {
	if p, ok := s.pools[u]; ok {
		return p
	}
	if !slices.Contains(catalog.DBUsers(), u) {
		panic("devstack: no database user " + string(u))
	}
	// Open parses and builds only: a DSN it refuses was refused already, for Pool.
	p, err := database.Open(context.Background(), database.Config{DSN: s.databaseURL, User: string(u), MaxConns: userPoolConns})
	if err != nil {
		panic("devstack: " + err.Error())
	}
	s.pools[u] = p
	s.closers = append(s.closers, p.Close)
	return p
}

// StepsAs is the pipeline's steps on PoolAs(u), with the stack's e-mail and contracts:
// what a function of u's kind that runs steps (the API routes that archive and resend,
// the activation route, the reconciler's rollback) is given.
func (s *Stack) StepsAs(u catalog.DBUser) *pipeline.Steps {
	return pipeline.New(s.PoolAs(u), s.log, s.stepOpts...)
}

// Start connects, migrates the control plane and wires the steps.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	s := &Stack{Unconfigured: map[string]string{}, databaseURL: o.DatabaseURL, log: o.Log, pools: map[catalog.DBUser]*pgxpool.Pool{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Pool, err = database.Open(ctx, database.Config{DSN: o.DatabaseURL, MaxConns: 8}); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.Pool.Close)
	if err := s.Pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("PostgreSQL is not reachable (DATABASE_URL): %w\n"+
			"  start the local cluster with: pg_ctlcluster --skip-systemctl-redirect 15 main start", err)
	}
	mig, err := store.Migrate(ctx, s.Pool)
	if err != nil {
		return nil, err
	}
	s.note("control plane at migration version %d", mig.To)
	if err := LocalPasswords(ctx, s.Pool, o.DatabaseURL); err != nil {
		return nil, err
	}

	var opts []pipeline.Option
	mailer, mail := o.Mailer, o.Email
	if mailer == nil && !o.NoEmail {
		if mailer, mail, err = emailFromEnv(ctx); err != nil {
			return nil, err
		}
	}
	if mailer != nil {
		opts = append(opts, pipeline.WithEmail(mailer, mail))
		if ep := os.Getenv("AWS_ENDPOINT_URL"); ep != "" && o.Mailer == nil {
			s.note("e-mail: SES at %s (moto: %[1]s/moto-api/data.json, LocalStack: %[1]s/_aws/ses)", ep)
		}
	} else {
		s.Unconfigured[catalog.SendWelcomeEmail.LogicalID] = "e-mail is not configured (set AWS_ENDPOINT_URL, SES_FROM_ADDRESS and APP_BASE_URL)"
	}

	if d, err := s.contracts(ctx, o); err != nil {
		return nil, err
	} else if d != nil {
		opts = append(opts, pipeline.WithContracts(d))
	} else {
		s.Unconfigured[catalog.DeploySorobanContract.LogicalID] = "contract deployment is not configured"
	}
	s.stepOpts = opts
	s.Steps = s.StepsAs(catalog.ProvisionerUser)
	s.Upgrader = upgrade.New(s.PoolAs(catalog.UpgraderUser), o.Log)
	s.Catalog = handlers.Pipeline(s.Steps)
	maps.Copy(s.Catalog, handlers.Upgrade(s.Upgrader))
	return s, nil
}

// Close stops what Start started.
func (s *Stack) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

func (s *Stack) note(format string, args ...any) {
	s.Notes = append(s.Notes, fmt.Sprintf(format, args...))
}

// emailFromEnv sends through SES at AWS_ENDPOINT_URL when the e-mail settings are present,
// making sure the emulator knows the sender identity.
func emailFromEnv(ctx context.Context) (pipeline.Mailer, config.Email, error) {
	if os.Getenv("AWS_ENDPOINT_URL") == "" || os.Getenv("SES_FROM_ADDRESS") == "" {
		return nil, config.Email{}, nil
	}
	cfg, err := config.LoadEmail()
	if err != nil {
		return nil, cfg, err
	}
	awsCfg, err := wiring.AWSConfig(ctx)
	if err != nil {
		return nil, cfg, err
	}
	ses := sesv2.NewFromConfig(awsCfg)
	if _, err := ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(cfg.From)}); err != nil {
		var exists *sestypes.AlreadyExistsException
		if !errors.As(err, &exists) {
			return nil, cfg, fmt.Errorf("register the sender with the SES emulator at AWS_ENDPOINT_URL: %w", err)
		}
	}
	return email.NewSender(ses, cfg.From, cfg.ConfigurationSet), cfg, nil
}

func (s *Stack) contracts(ctx context.Context, o Options) (pipeline.ContractDeployer, error) {
	switch {
	case o.Contracts == ContractsNone:
		return nil, nil
	case o.Contracts == ContractsFromEnv && os.Getenv("SOROBAN_RPC_URL") != "":
		cfg, err := config.LoadSoroban()
		if err != nil {
			return nil, err
		}
		awsCfg, err := wiring.AWSConfig(ctx)
		if err != nil {
			return nil, err
		}
		s.note("contracts: Stellar RPC at %s (%s)", cfg.RPCURL, cfg.Network)
		return wiring.NewDeployer(ctx, cfg, awsCfg, s.PoolAs(catalog.ProvisionerUser))
	}
	return s.localDouble(o)
}

// The local double applies a transaction when it is sent and, here, shows its result at
// the first getTransaction: there is no ledger close to wait for locally, so local runs and
// the benchmark measure our code, not a simulated wait. (The deployer's polling of a
// transaction that is not visible yet is covered by internal/soroban's tests, against the
// double's default of one NOT_FOUND answer.) localPollInterval is the pause before asking
// again when the double says to try later. A real network closes a ledger every ~5 s; the
// deployer's default poll of 1 s applies there.
const localPollInterval = time.Millisecond

// localDouble serves a Stellar RPC double with a pool of fresh funded deployer accounts.
func (s *Stack) localDouble(o Options) (pipeline.ContractDeployer, error) {
	addr := o.StellarAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s.Stellar = stellarrpc.New(config.PassphraseLocal, append([]stellarrpc.Option{stellarrpc.WithNotFoundPolls(0)}, o.StellarOptions...)...)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("Stellar RPC double: %w", err)
	}
	srv := &http.Server{Handler: s.Stellar, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.closers = append(s.closers, func() { _ = srv.Close(); _ = s.Stellar.Close() })
	var signers []*keypair.Full
	for range max(o.DeployerAccounts, 1) {
		k := keypair.MustRandom()
		s.Stellar.Fund(k.Address(), 10_000_0000000)
		signers = append(signers, k)
	}
	url := "http://" + ln.Addr().String()
	s.note("contracts: Stellar RPC double at %s (local network; set SOROBAN_RPC_URL for a real one)", url)
	deployments := store.New(s.PoolAs(catalog.ProvisionerUser)).ContractDeployments(wiring.DeployerLease)
	return soroban.New(soroban.Config{
		RPC:          client.NewClient(url, nil),
		Passphrase:   config.PassphraseLocal,
		Signers:      signers,
		Accounts:     deployments,
		Wasm:         anchor.Wasm,
		Journal:      deployments,
		PollInterval: cmp.Or(o.PollInterval, localPollInterval),
	})
}

// LocalPasswords gives the functions' database users (catalog.DBUsers) the password of dsn,
// DATABASE_URL, when it has one: on a developer machine whose server asks for passwords
// (the compose PostgreSQL), the local functions log in as their users with it. Deployed,
// those users have no password (they log in with IAM tokens, and RDS refuses a password
// to a user in rds_iam): this is for developer machines only, as APP_ENV=local is.
func LocalPasswords(ctx context.Context, pool *pgxpool.Pool, dsn string) error {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: invalid connection string")
	}
	if cfg.Password == "" {
		return nil
	}
	for _, u := range catalog.DBUsers() {
		// ALTER ROLE takes no parameters: format quotes the name and the password.
		var stmt string
		if err := pool.QueryRow(ctx, `SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)`, string(u), cfg.Password).Scan(&stmt); err != nil {
			return fmt.Errorf("local database users: %w", err)
		}
		if _, err := pool.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("local database users: set %s's password: %w", u, err)
		}
	}
	return nil
}
