// Command provision onboards one tenant from the command line against a local PostgreSQL:
// it migrates the control plane, reserves the tenant as the admin API does, then follows
// statemachine/provisioning.asl.json state by state, printing each one.
//
// It is a stopgap until the local ASL engine and `make dev` exist: it honours each Task's
// Parameters, ResultSelector and ResultPath (plain paths only) and routes a failure to the
// Catch target, but does not retry. Functions that are not built yet are reported as not
// configured and their state is skipped.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/jackc/pgx/v5/pgxpool"
	client "github.com/stellar/go/clients/rpcclient"
	"github.com/stellar/go/keypair"

	anchor "github.com/healthstack/tenant-provisioning/contracts/tenant-anchor"
	"github.com/healthstack/tenant-provisioning/internal/bootstrap"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/functions"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/soroban"
	"github.com/healthstack/tenant-provisioning/internal/stellarrpc"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

func main() {
	var reg tenant.Registration
	flag.StringVar(&reg.Name, "name", "", "tenant display name (required)")
	flag.StringVar(&reg.AdminEmail, "admin-email", "", "tenant admin's e-mail address (required)")
	flag.StringVar(&reg.AdminFirstName, "admin-first-name", "", "tenant admin's first name (required)")
	flag.StringVar(&reg.AdminLastName, "admin-last-name", "", "tenant admin's last name (required)")
	definition := flag.String("definition", "statemachine/provisioning.asl.json", "state machine definition")
	verbose := flag.Bool("v", false, "also print the functions' JSON logs")
	flag.Parse()

	logOut := io.Discard
	if *verbose {
		logOut = os.Stderr
	}
	ctx := context.Background()
	cfg, err := config.LoadDatabase()
	if err != nil {
		fmt.Fprintln(os.Stderr, "provision:", err)
		os.Exit(1)
	}
	opts := options{dsn: cfg.URL, definition: *definition, reg: reg, log: slog.New(slog.NewJSONHandler(logOut, nil))}
	opts.contracts = contracts
	if opts.email, err = localEmail(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "provision:", err)
		os.Exit(1)
	}
	if err := run(ctx, os.Stdout, opts); err != nil {
		fmt.Fprintln(os.Stderr, "provision:", err)
		os.Exit(1)
	}
}

type options struct {
	dsn, definition string
	reg             tenant.Registration
	log             *slog.Logger
	email           *pipeline.EmailSettings // nil: e-mail not configured
	// contracts builds the contract deployer on the pool; nil: not configured.
	contracts func(ctx context.Context, w io.Writer, pool *pgxpool.Pool) (pipeline.ContractDeployer, error)
}

// localEmail sends through SES at AWS_ENDPOINT_URL (moto_server, LocalStack) when the
// e-mail settings are present, making sure the emulator knows the sender identity.
// Without them the e-mail state is skipped.
func localEmail(ctx context.Context) (*pipeline.EmailSettings, error) {
	if os.Getenv("AWS_ENDPOINT_URL") == "" || os.Getenv("SES_FROM_ADDRESS") == "" {
		return nil, nil
	}
	cfg, err := config.LoadEmail()
	if err != nil {
		return nil, err
	}
	awsCfg, err := bootstrap.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	client := sesv2.NewFromConfig(awsCfg)
	if _, err := client.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(cfg.From)}); err != nil {
		var exists *sestypes.AlreadyExistsException
		if !errors.As(err, &exists) {
			return nil, fmt.Errorf("register the sender with the SES emulator at AWS_ENDPOINT_URL: %w", err)
		}
	}
	return &pipeline.EmailSettings{
		Mailer:            email.NewSender(client, cfg.From, cfg.ConfigurationSet),
		AppBaseURL:        cfg.AppBaseURL,
		TenantURLTemplate: cfg.TenantURLTemplate,
		OpsAddress:        cfg.OpsAddress,
		ActivationTTL:     cfg.ActivationTTL,
	}, nil
}

// contracts deploys to the Stellar RPC at SOROBAN_RPC_URL when it is set; otherwise to a
// Stellar RPC double started in this process, with a fresh funded deployer account.
func contracts(ctx context.Context, w io.Writer, pool *pgxpool.Pool) (pipeline.ContractDeployer, error) {
	if os.Getenv("SOROBAN_RPC_URL") != "" {
		cfg, err := config.LoadSoroban()
		if err != nil {
			return nil, err
		}
		awsCfg, err := bootstrap.AWSConfig(ctx)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "contracts: Stellar RPC at %s (%s)\n", cfg.RPCURL, cfg.Network)
		return bootstrap.NewDeployer(ctx, cfg, awsCfg, pool)
	}
	return localDouble(ctx, w, pool)
}

// localDouble serves a Stellar RPC double on a free local port for the life of the process.
func localDouble(_ context.Context, w io.Writer, pool *pgxpool.Pool) (pipeline.ContractDeployer, error) {
	double := stellarrpc.New(stellarrpc.LocalNetworkPassphrase)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = http.Serve(ln, double) }()
	signer := keypair.MustRandom()
	double.Fund(signer.Address(), 10_000_0000000)
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(w, "contracts: in-process Stellar RPC double at %s (local network; set SOROBAN_RPC_URL for a real one)\n", url)
	return soroban.New(soroban.Config{
		RPC:          client.NewClient(url, nil),
		Passphrase:   stellarrpc.LocalNetworkPassphrase,
		Signer:       signer,
		Wasm:         anchor.Wasm,
		Lock:         database.AdvisoryLocker{Pool: pool},
		PollInterval: 100 * time.Millisecond,
	})
}

func run(ctx context.Context, w io.Writer, o options) error {
	reg, dsn, log := o.reg, o.dsn, o.log
	def, err := loadDefinition(o.definition)
	if err != nil {
		return err
	}
	reg, err = reg.Normalize()
	if err != nil {
		var ve *fault.ValidationError
		if errors.As(err, &ve) {
			for _, f := range ve.Fields {
				fmt.Fprintf(w, "  -%s: %s\n", flagName(f.Field), f.Message)
			}
		}
		return errors.New("invalid tenant registration")
	}
	pool, err := database.Open(ctx, database.Config{DSN: dsn, MaxConns: 4})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("PostgreSQL is not reachable (DATABASE_URL): %w\n"+
			"  start the local cluster with: pg_ctlcluster --skip-systemctl-redirect 15 main start", err)
	}
	mig, err := store.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "control plane at migration version %d\n", mig.To)

	st := store.New(pool)
	t, err := st.Reserve(ctx, reg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "reserved tenant %s (PENDING)\n", t.ID)

	executionArn := "arn:aws:states:local:000000000000:execution:tenant-provisioning:" + t.ID.String()
	var stepOpts []pipeline.Option
	skip := map[string]string{}
	if o.contracts != nil {
		d, err := o.contracts(ctx, w, pool)
		if err != nil {
			return err
		}
		stepOpts = append(stepOpts, pipeline.WithContracts(d))
	} else {
		skip[functions.DeploySorobanContract] = "contract deployment is not configured"
	}
	if o.email != nil {
		stepOpts = append(stepOpts, pipeline.WithEmail(*o.email))
	} else {
		skip[functions.SendWelcomeEmail] = "e-mail is not configured (set AWS_ENDPOINT_URL, SES_FROM_ADDRESS and APP_BASE_URL)"
	}
	catalog := functions.Catalog(pipeline.New(pool, log, stepOpts...))
	for name, why := range skip {
		delete(catalog, name)
		fmt.Fprintf(w, "note: %s\n", why)
	}
	failed := walk(ctx, w, def, catalog, map[string]any{"tenantId": t.ID.String()}, executionArn)

	t, err = st.Get(ctx, t.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\ntenant %s is %s, schema %s\n", t.ID, t.Status, orNone(t.SchemaName))
	if o.email != nil {
		fmt.Fprintf(w, "e-mail went to SES at %s (moto: %s/moto-api/data.json, LocalStack: %s/_aws/ses)\n",
			os.Getenv("AWS_ENDPOINT_URL"), os.Getenv("AWS_ENDPOINT_URL"), os.Getenv("AWS_ENDPOINT_URL"))
	}
	if t.ProvisioningError != "" {
		fmt.Fprintf(w, "error: %s\n", t.ProvisioningError)
	}
	if failed {
		return errors.New("provisioning failed")
	}
	return nil
}

type state struct {
	Type           string         `json:"Type"`
	Resource       string         `json:"Resource"`
	Parameters     map[string]any `json:"Parameters"`
	ResultSelector map[string]any `json:"ResultSelector"`
	ResultPath     *string        `json:"ResultPath"`
	Next           string         `json:"Next"`
	Catch          []struct {
		Next       string
		ResultPath string
	} `json:"Catch"`
	Error string `json:"Error"`
}

type definition struct {
	StartAt string           `json:"StartAt"`
	States  map[string]state `json:"States"`
}

func loadDefinition(path string) (definition, error) {
	var def definition
	b, err := os.ReadFile(path)
	if err != nil {
		return def, fmt.Errorf("read state machine (run from the repository root, or pass -definition): %w", err)
	}
	return def, json.Unmarshal(b, &def)
}

// walk runs the states from StartAt and reports whether the execution failed.
func walk(ctx context.Context, w io.Writer, def definition, catalog map[string]lambda.Handler, data map[string]any, executionArn string) bool {
	ctxObj := map[string]any{"Execution": map[string]any{"Id": executionArn}}
	for name := def.StartAt; ; {
		s := def.States[name]
		switch s.Type {
		case "Succeed":
			fmt.Fprintf(w, "%-24s succeeded\n", name)
			return false
		case "Fail":
			fmt.Fprintf(w, "%-24s execution failed\n", name)
			return true
		case "Task":
		default:
			fmt.Fprintf(w, "%-24s unsupported state type %s\n", name, s.Type)
			return true
		}
		fn := strings.TrimSuffix(strings.TrimPrefix(s.Resource, "${"), "Arn}")
		h, ok := catalog[fn]
		if !ok {
			fmt.Fprintf(w, "%-24s skipped: %s is not configured\n", name, fn)
			name = s.Next
			continue
		}
		input, missing := resolve(s.Parameters, data, ctxObj)
		if missing != "" {
			fmt.Fprintf(w, "%-24s skipped: its input needs %s, which an earlier skipped state did not produce\n", name, missing)
			name = s.Next
			continue
		}
		payload, _ := json.Marshal(input)
		start := time.Now()
		out, err := h.Invoke(ctx, payload)
		elapsed := time.Since(start).Round(time.Millisecond)
		if err != nil {
			fmt.Fprintf(w, "%-24s FAILED after %v: %s: %v\n", name, elapsed, fault.Name(err), err)
			if len(s.Catch) == 0 {
				return true
			}
			data[strings.TrimPrefix(s.Catch[0].ResultPath, "$.")] = map[string]any{"Error": fault.Name(err), "Cause": err.Error()}
			name = s.Catch[0].Next
			continue
		}
		fmt.Fprintf(w, "%-24s ok in %v: %s\n", name, elapsed, out)
		var result any
		_ = json.Unmarshal(out, &result)
		if s.ResultSelector != nil {
			result, _ = resolve(s.ResultSelector, result, ctxObj)
		}
		if s.ResultPath != nil && *s.ResultPath != "$" {
			data[strings.TrimPrefix(*s.ResultPath, "$.")] = result
		}
		name = s.Next
	}
}

// resolve builds a Parameters/ResultSelector object: "key.$" entries take the value at a
// plain path ($.a.b on data, $$.a.b on the context object). It returns the first path that
// has no value.
func resolve(template map[string]any, data any, ctxObj map[string]any) (map[string]any, string) {
	out := map[string]any{}
	for k, v := range template {
		path, isPath := v.(string)
		if !strings.HasSuffix(k, ".$") || !isPath {
			out[k] = v
			continue
		}
		root, rest := data, strings.TrimPrefix(path, "$")
		if strings.HasPrefix(path, "$$") {
			root, rest = any(ctxObj), strings.TrimPrefix(path, "$$")
		}
		val, ok := lookup(root, strings.TrimPrefix(rest, "."))
		if !ok {
			return nil, path
		}
		out[strings.TrimSuffix(k, ".$")] = val
	}
	return out, ""
}

func lookup(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// flagName turns a registration field name into its flag: adminEmail → admin-email.
func flagName(field string) string {
	var b strings.Builder
	for _, r := range field {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('-')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
