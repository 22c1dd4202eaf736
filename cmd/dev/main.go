// Command dev runs the whole stack on a developer machine (`make dev`): the admin API on
// localhost:3000 with the same handlers the Lambdas use, executions in the local ASL engine,
// the Lambda Invoke API on :3001, a Stellar RPC double on :8000 and a local SES outbox on
// :4579 (or SES in an AWS API emulator when AWS_ENDPOINT_URL is set).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/healthstack/tenant-provisioning/internal/auditchain"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/local/devserver"
	"github.com/healthstack/tenant-provisioning/internal/wiring"
)

func main() {
	cfg := devserver.Config{}
	flag.StringVar(&cfg.APIAddr, "api", "127.0.0.1:3000", "admin API and execution pages")
	flag.StringVar(&cfg.InvokeAddr, "invoke", "127.0.0.1:3001", "Lambda Invoke API (like sam local start-lambda)")
	flag.StringVar(&cfg.StellarAddr, "stellar", "127.0.0.1:8000", "Stellar RPC double (unless SOROBAN_RPC_URL is set)")
	flag.StringVar(&cfg.OutboxAddr, "outbox", "127.0.0.1:4579", "local SES v2 outbox (unless AWS_ENDPOINT_URL is set)")
	flag.StringVar(&cfg.OutboxDir, "outbox-dir", ".local/outbox", "where sent e-mail is saved as .eml")
	flag.DurationVar(&cfg.ReconcileEvery, "reconcile-every", 30*time.Second, "run the reconciler this often, as the schedule does in AWS (0: never)")
	flag.DurationVar(&cfg.ReconcileStaleAfter, "reconcile-stale-after", 0, "how long a PENDING or PROVISIONING tenant must sit untouched before the reconciler looks at it (0: its default, 5m)")
	flag.DurationVar(&cfg.SealEvery, "seal-every", time.Minute, "seal and sign the audit trail this often when an AWS API emulator is configured, as the schedule does every 15 minutes in AWS (0: never)")
	flag.DurationVar(&cfg.PublishEvery, "publish-every", 10*time.Second, "run the event publisher this often when EVENT_BUS_NAME is set (0: never)")
	flag.Parse()
	// make dev points EventBridge at the emulator (AWS_ENDPOINT_URL_EVENTBRIDGE); the bus is
	// made there if missing.
	if os.Getenv("AWS_ENDPOINT_URL_EVENTBRIDGE") != "" || os.Getenv("AWS_ENDPOINT_URL") != "" {
		cfg.EventBusName = cmp.Or(os.Getenv("EVENT_BUS_NAME"), "tenant-provisioning-local-events")
	}
	cfg.AdminToken = os.Getenv("DEV_API_TOKEN")
	cfg.Outbox = os.Getenv("AWS_ENDPOINT_URL") == ""
	cfg.Log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

func run(cfg devserver.Config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := config.LoadDatabase()
	if err != nil {
		return err
	}
	cfg.DatabaseURL = db.URL
	if os.Getenv("AWS_ENDPOINT_URL_KMS") != "" || os.Getenv("AWS_ENDPOINT_URL") != "" {
		if cfg.Audit, err = localAuditChain(ctx); err != nil {
			return err
		}
	}
	if cfg.EventBusName != "" {
		if err := localEventBus(ctx, cfg.EventBusName); err != nil {
			return err
		}
	}
	srv, err := devserver.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, n := range srv.Stack.Notes {
		fmt.Println(n)
	}
	if srv.Outbox != nil {
		fmt.Printf("e-mail: local SES outbox at %s (sent mail: %s/outbox, .eml files in %s)\n", srv.OutboxURL, srv.APIURL, cfg.OutboxDir)
	}
	fmt.Printf("Lambda Invoke API:  %s\n", srv.InvokeURL)
	fmt.Printf("admin API:          %s/admin/tenants\n", srv.APIURL)
	fmt.Printf("upgrade runs:       %s/admin/upgrades (POST starts one; GET …/{id} follows it)\n", srv.APIURL)
	fmt.Printf("executions:         %s/executions\n", srv.APIURL)
	if cfg.ReconcileEvery > 0 {
		fmt.Printf("reconciler:         every %s (-reconcile-every)\n", cfg.ReconcileEvery)
	}
	fmt.Printf("audit trail:        %s/audit\n", srv.APIURL)
	if cfg.Audit != nil {
		fmt.Printf("                    sealed and signed every %s (-seal-every) into bucket %s; make audit-verify checks it all\n", cfg.SealEvery, cfg.Audit.Bucket)
	} else {
		fmt.Println("                    no AWS API emulator: records are kept, not sealed or signed")
	}
	if srv.Publisher != nil && cfg.PublishEvery > 0 {
		fmt.Printf("lifecycle events:   to bus %s every %s (-publish-every); the outbox: %s/dev/events\n", cfg.EventBusName, cfg.PublishEvery, srv.APIURL)
	} else {
		fmt.Printf("lifecycle events:   %s/dev/events (set AWS_ENDPOINT_URL and EVENT_BUS_NAME to publish them)\n", srv.APIURL)
	}
	if cfg.AdminToken == "" {
		fmt.Printf("admin token:        %s   (set DEV_API_TOKEN to choose one)\n", srv.AdminToken)
	} else {
		fmt.Println("admin token:        from DEV_API_TOKEN")
	}
	fmt.Printf("viewer token:       %s   (the read scope: GET routes only, a write is 403)\n", srv.ViewerToken)
	fmt.Printf("\n  curl -s -H 'Authorization: Bearer %s' %s/admin/tenants\n\nCtrl-C stops everything.\n", maskUnlessGenerated(cfg, srv), srv.APIURL)
	<-ctx.Done()
	return nil
}

// maskUnlessGenerated prints a token the user chose as $DEV_API_TOKEN rather than echoing it.
func maskUnlessGenerated(cfg devserver.Config, srv *devserver.Server) string {
	if cfg.AdminToken != "" {
		return "$DEV_API_TOKEN"
	}
	return srv.AdminToken
}

// auditEnv is where make dev keeps the local audit chain's key and bucket, for the next run
// and for make audit-verify.
const auditEnv = ".local/audit.env"

// localAuditChain is the audit chain's key and bucket in the emulator: those of the last
// run while the emulator still has them, otherwise new ones (an emulator keeps nothing over
// a restart: the digests the database names are gone with it, and the verifier says so).
func localAuditChain(ctx context.Context) (*config.AuditChain, error) {
	awsCfg, err := wiring.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	b := wiring.S3(awsCfg)
	if last, err := os.ReadFile(auditEnv); err == nil {
		env := map[string]string{}
		for _, line := range strings.Split(string(last), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				env[k] = v
			}
		}
		ac := config.AuditChain{KeyID: env["AUDIT_KEY_ID"], Bucket: env["AUDIT_BUCKET"]}
		if _, err := b.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(ac.Bucket)}); err == nil && ac.KeyID != "" {
			return &ac, nil
		}
	}
	ac, err := auditchain.CreateLocal(ctx, kms.NewFromConfig(awsCfg), b, fmt.Sprintf("audit-digests-local-%d", time.Now().Unix()), 1)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(auditEnv), 0o755); err != nil {
		return nil, err
	}
	return &ac, os.WriteFile(auditEnv, []byte("AUDIT_KEY_ID="+ac.KeyID+"\nAUDIT_BUCKET="+ac.Bucket+"\n"), 0o644)
}

// localEventBus makes the bus called name in the emulator, unless it is there.
func localEventBus(ctx context.Context, name string) error {
	awsCfg, err := wiring.AWSConfig(ctx)
	if err != nil {
		return err
	}
	_, err = eventbridge.NewFromConfig(awsCfg).CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(name)})
	if _, exists := errors.AsType[*ebtypes.ResourceAlreadyExistsException](err); exists {
		return nil
	}
	return err
}
