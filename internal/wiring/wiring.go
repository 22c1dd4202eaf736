// Package wiring builds, once per Lambda container, what every function needs: the
// logger, the configuration, the AWS clients and the database pool. Mains stay wiring only.
package wiring

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/controlplane"
	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/secrets"
)

// Logger is the functions' logger: JSON when the function's log format is JSON (as the
// template configures it), with the invocation's request id on every line.
func Logger() *slog.Logger {
	return lambdacontext.NewLogger(lambdacontext.WithFunctionARN())
}

// AWSConfig loads the SDK configuration the standard way: region and credentials from the
// Lambda environment, and AWS_ENDPOINT_URL (LocalStack, moto_server) when set.
func AWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return cfg, fmt.Errorf("aws config: %w", err)
	}
	return cfg, nil
}

// Pool reads the database settings (config.LoadDatabase) and opens the pool of a function
// that logs in as user (its catalogue entry's DBUser), the one way the functions get
// theirs. Deployed, it logs in at DB_HOST, DB_PORT, DB_NAME with an IAM authentication
// token made for each new connection from awsCfg's credentials (the function's role), so
// it holds no password. The control-plane migration alone (user "") logs in as the master
// user, with the credentials of DB_SECRET_ARN from Secrets Manager, cached and re-read
// when a connection attempt fails (rotation); host, port and database name come from the
// secret when it has them. A function that has a user and is given the secret refuses to
// start: the master's password is the migration's alone. With APP_ENV=local, DATABASE_URL
// is used, as user. A setting that is missing, malformed or misplaced is a ConfigError
// naming the variable, returned before anything is opened.
func Pool(ctx context.Context, awsCfg aws.Config, user catalog.DBUser) (*pgxpool.Pool, error) {
	cfg, err := config.LoadDatabase()
	if err != nil {
		return nil, err
	}
	switch {
	case user != catalog.MigrationUser && cfg.SecretARN != "":
		return nil, &fault.ConfigError{Op: "config", Variable: "DB_SECRET_ARN",
			Msg: "DB_SECRET_ARN holds the master user's credentials, which only the control-plane migration may have; this function logs in as " + string(user)}
	case user == catalog.MigrationUser && cfg.SecretARN == "" && cfg.URL == "":
		return nil, &fault.ConfigError{Op: "config", Variable: "DB_SECRET_ARN", Msg: "DB_SECRET_ARN is not set (the control-plane migration logs in as the master user)"}
	}
	cfg.User = string(user)
	return openPool(ctx, cfg, awsCfg)
}

// openPool is Pool on settings already read: the tests give it theirs, without the
// process environment.
func openPool(ctx context.Context, cfg config.Database, awsCfg aws.Config) (*pgxpool.Pool, error) {
	switch {
	case cfg.URL != "":
		return database.Open(ctx, database.Config{DSN: cfg.URL, MaxConns: cfg.MaxConns, User: cfg.User})
	case cfg.SecretARN == "":
		dsn, err := serverDSN(cfg, cfg.Host, cfg.Port, cfg.Name)
		if err != nil {
			return nil, err
		}
		return database.Open(ctx, database.Config{DSN: dsn, MaxConns: cfg.MaxConns, Credentials: iamToken(cfg, awsCfg)})
	}
	cache := secrets.NewCache(secretsmanager.NewFromConfig(awsCfg), 0)
	creds, err := cache.DBCredentials(ctx, cfg.SecretARN, false)
	if err != nil {
		return nil, err
	}
	dsn, err := secretDSN(cfg, creds)
	if err != nil {
		return nil, err
	}
	return database.Open(ctx, database.Config{
		DSN:      dsn,
		MaxConns: cfg.MaxConns,
		Credentials: func(ctx context.Context, refresh bool) (string, string, error) {
			c, err := cache.DBCredentials(ctx, cfg.SecretARN, refresh)
			return c.Username, c.Password.Reveal(), err
		},
	})
}

// iamToken logs in as cfg.User with an RDS IAM authentication token, made for each new
// connection (a token is good for 15 minutes, for connecting only) and signed with the
// function's role credentials, which the role must allow rds-db:connect for (the template's
// policy names the user). Made for DB_HOST:DB_PORT: the proxy's endpoint through RDS Proxy,
// which checks it, the instance's otherwise.
func iamToken(cfg config.Database, awsCfg aws.Config) database.Credentials {
	endpoint := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	return func(ctx context.Context, _ bool) (string, string, error) {
		token, err := auth.BuildAuthToken(ctx, endpoint, awsCfg.Region, cfg.User, awsCfg.Credentials)
		if err != nil {
			return "", "", &fault.TransientError{Op: "database IAM token", Msg: "cannot sign the token", Err: err}
		}
		return cfg.User, token, nil
	}
}

// secretDSN is the connection string without credentials: those are supplied per
// connection, so they never sit in a string that could be logged.
//
// Through an RDS Proxy (cfg.Proxy) the functions connect to DB_HOST:DB_PORT whatever the
// secret says (its host is the instance behind the proxy), verify the proxy's certificate,
// which Amazon's public CAs issue, against the system roots unless DB_SSLROOTCERT names
// a bundle, and prepare no statement by name (database.ProxyQueryExecMode), so the proxy
// can hand the session's database connection to another client between transactions.
func secretDSN(cfg config.Database, c secrets.DBCredentials) (string, error) {
	host, port, name := cfg.Host, cfg.Port, cfg.Name
	if c.Host != "" && !cfg.Proxy {
		host = c.Host
	}
	if c.Port != 0 && !cfg.Proxy {
		port = c.Port
	}
	if c.DBName != "" {
		name = c.DBName
	}
	return serverDSN(cfg, host, port, name)
}

// serverDSN is secretDSN for a server already chosen (an IAM user's: DB_HOST and its peers).
func serverDSN(cfg config.Database, host string, port int, name string) (string, error) {
	switch {
	case cfg.Proxy && host == "":
		return "", fmt.Errorf("config: DB_PROXY=true needs DB_HOST, the proxy's endpoint")
	case host == "" || name == "":
		return "", fmt.Errorf("config: the database secret has no host or dbname; set DB_HOST and DB_NAME")
	}
	q := url.Values{"sslmode": {cfg.SSLMode}}
	rootCert := cfg.SSLRootCert
	if cfg.Proxy {
		rootCert = cmp.Or(rootCert, "system")
		q.Set("default_query_exec_mode", database.ProxyQueryExecMode)
	}
	if rootCert != "" {
		q.Set("sslrootcert", rootCert)
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/" + name, RawQuery: q.Encode()}
	return u.String(), nil
}

// Exit ends a container whose start-up failed. Lambda reports the init error and retries
// the invocation in a fresh container.
func Exit(log *slog.Logger, err error) {
	attrs := []any{"error", err.Error(), "errorType", fault.Name(err)}
	var ce *fault.ConfigError
	if errors.As(err, &ce) && ce.Variable != "" {
		attrs = append(attrs, "variable", ce.Variable)
	}
	log.Error("start-up failed", attrs...)
	os.Exit(1)
}

// The mains' entry points, one per catalog.Component: each builds, for the catalogue's
// function id, its component with the clients of the function's capabilities, and returns
// the function that closes the pool on SIGTERM.

// Pipeline builds the provisioning steps for a step's or the rollback's main.
func Pipeline(id string) (*pipeline.Steps, func()) {
	return start(id, func(ctx context.Context, log *slog.Logger, f catalog.Function) (*pipeline.Steps, *pgxpool.Pool, error) {
		return NewSteps(ctx, log, f)
	})
}

// ControlPlane builds the control-plane migration for its main.
func ControlPlane(id string) (*controlplane.Handler, func()) {
	return start(id, func(ctx context.Context, log *slog.Logger, f catalog.Function) (*controlplane.Handler, *pgxpool.Pool, error) {
		pool, err := poolFromEnv(ctx, f)
		if err != nil {
			return nil, nil, err
		}
		return controlplane.New(pool, log), pool, nil
	})
}

// poolFromEnv is Pool for a function f that needs no other AWS client.
func poolFromEnv(ctx context.Context, f catalog.Function) (*pgxpool.Pool, error) {
	awsCfg, err := AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return Pool(ctx, awsCfg, f.DBUser())
}

// start builds a main's component once, before lambda.Start, with the functions' logger.
// A start-up failure, an id the catalogue lacks included, ends the process: Lambda
// reports the init error.
func start[T any](id string, build func(context.Context, *slog.Logger, catalog.Function) (T, *pgxpool.Pool, error)) (T, func()) {
	log := Logger()
	f, ok := catalog.ByLogicalID(id)
	if !ok {
		Exit(log, &fault.ConfigError{Op: "start", Msg: "function " + id + " is not in the catalogue"})
	}
	c, pool, err := build(context.Background(), log, f)
	if err != nil {
		Exit(log, err)
	}
	return c, pool.Close
}

// NewSteps reads the configuration and builds the steps of function f and their pool, as
// f's database user, with the clients f's capabilities need: e-mail (catalog.Email) and
// the contract deployer (catalog.Contracts). The others are not the pipeline's and change
// nothing here.
func NewSteps(ctx context.Context, log *slog.Logger, f catalog.Function) (*pipeline.Steps, *pgxpool.Pool, error) {
	awsCfg, err := AWSConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	return newSteps(ctx, log, awsCfg, f)
}

// newSteps is NewSteps on an AWS configuration the caller loaded already (and uses for its
// own clients too).
func newSteps(ctx context.Context, log *slog.Logger, awsCfg aws.Config, f catalog.Function) (*pipeline.Steps, *pgxpool.Pool, error) {
	pool, err := Pool(ctx, awsCfg, f.DBUser())
	if err != nil {
		return nil, nil, err
	}
	var opts []pipeline.Option
	for _, n := range f.Needs {
		var opt pipeline.Option
		switch n {
		case catalog.Email:
			opt, err = emailOption(awsCfg)
		case catalog.Contracts:
			opt, err = contractsOption(ctx, awsCfg, pool)
		default:
			continue
		}
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		opts = append(opts, opt)
	}
	return pipeline.New(pool, log, opts...), pool, nil
}

// emailOption sends the e-mail steps' messages through SES v2, from the configured
// sender identity.
func emailOption(awsCfg aws.Config) (pipeline.Option, error) {
	cfg, err := config.LoadEmail()
	if err != nil {
		return nil, err
	}
	return pipeline.WithEmail(email.NewSender(sesv2.NewFromConfig(awsCfg), cfg.From, cfg.ConfigurationSet), cfg), nil
}
