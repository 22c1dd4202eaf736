package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/stellar/go/keypair"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
)

// startupTarget is the start-to-ready bound for a function binary.
const startupTarget = 60 * time.Millisecond

// bootstrapTarget bounds a function binary, in MiB: what a Lambda bootstrap may grow to. It
// leaves room for maintained decoders (stellar/go's xdr reads the contract step's results
// and metas) rather than parsers written to save a fraction of a MiB.
const bootstrapTarget = 20

// measureStartup builds every function for this machine and times each binary from process
// start to its first request for work on a local stand-in of the Lambda runtime API: the
// cold-start cost our code adds, without the first database connection (pools connect on
// first use). It also builds each for linux/arm64 as `make build` does, for the size Lambda
// gets. It reports each function's median and size, then the slowest and the largest
// against their targets.
func measureStartup(ctx context.Context, cfg Config, dbURL string, runs int) ([]Result, error) {
	var dirs []string // every function the catalogue declares
	for _, f := range catalog.All() {
		dirs = append(dirs, filepath.Join("functions", f.Dir))
	}
	if _, err := os.Stat(dirs[0]); err != nil {
		return nil, fmt.Errorf("no functions/ here: run from the repository root")
	}
	tmp, err := os.MkdirTemp("", "bench-startup")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ready := make(chan time.Time, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/runtime/invocation/next") {
			select {
			case ready <- time.Now():
			default:
			}
			<-r.Context().Done() // no work: hold the poll until the process is stopped
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	env := append(os.Environ(),
		"AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(), "AWS_LAMBDA_FUNCTION_NAME=bench",
		"APP_ENV=local", "DATABASE_URL="+dbURL, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench",
		"SES_FROM_ADDRESS=noreply@bench.localhost", "APP_BASE_URL=http://localhost",
		"SOROBAN_RPC_URL=http://127.0.0.1:1", "SOROBAN_NETWORK=local", "SOROBAN_DEPLOYER_SEED="+keypair.MustRandom().Seed(),
		"STATE_MACHINE_ARN=arn:aws:states:us-east-1:123456789012:stateMachine:bench",
		"AUDIT_KEY_ID=arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
		"AUDIT_BUCKET=bench-audit-digests", "EVENT_BUS_NAME=bench-events")

	var slowest time.Duration
	var slowestName string
	var biggest int64
	var biggestName string
	var each []Result
	for _, dir := range dirs {
		name := filepath.Base(dir)
		bin := filepath.Join(tmp, name)
		cfg.progress("startup: %s", name)
		if err := buildFunction(ctx, dir, bin, runtime.GOARCH); err != nil {
			return nil, err
		}
		if err := buildFunction(ctx, dir, bin+".arm64", "arm64"); err != nil {
			return nil, err
		}
		st, err := os.Stat(bin + ".arm64")
		if err != nil {
			return nil, err
		}
		if st.Size() > biggest {
			biggest, biggestName = st.Size(), name
		}
		each = append(each, newResult("arm64 bootstrap size: "+name, float64(st.Size())/(1<<20), "MiB", bootstrapTarget, "target"))
		var ds []time.Duration
		for range runs {
			d, err := startOnce(ctx, bin, env, ready)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			ds = append(ds, d)
		}
		slices.Sort(ds)
		med := ds[len(ds)/2]
		if med > slowest {
			slowest, slowestName = med, name
		}
		each = append(each, newResult("start-to-ready median: "+name, ms(med), "ms", ms(startupTarget), "target"))
	}
	r := newResult("function start-to-ready, slowest median ("+slowestName+")", ms(slowest), "ms", ms(startupTarget), "target")
	r.Target, r.Margin = "≤ 60 ms", ms(startupTarget)-r.Value
	r.Met = ptr(r.Margin >= 0)
	size := newResult("largest arm64 bootstrap ("+biggestName+")", float64(biggest)/(1<<20), "MiB", bootstrapTarget, "target")
	size.Target, size.Margin = fmt.Sprintf("≤ %d MiB", bootstrapTarget), bootstrapTarget-size.Value
	size.Met = ptr(size.Margin >= 0)
	return append(each, r, size), nil
}

// buildFunction builds one function's stripped linux binary for goarch, with the flags of
// `make build`.
func buildFunction(ctx context.Context, dir, out, goarch string) error {
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", out, "./"+dir)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s for %s: %v\n%s", dir, goarch, err, b)
	}
	return nil
}

func startOnce(ctx context.Context, bin string, env []string, ready chan time.Time) (time.Duration, error) {
	select { // drop a late signal from a previous run
	case <-ready:
	default:
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = env
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	select {
	case at := <-ready:
		return at.Sub(start), nil
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("never asked the runtime API for work (start-up failed?)")
	}
}
