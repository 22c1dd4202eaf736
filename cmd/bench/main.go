// Command bench measures tenant provisioning on this machine, each figure next to a
// baseline measured in the same run, and writes the figures with the machine's facts to
// bench/results/<UTC timestamp>.json. It creates its own database (on TEST_DATABASE_URL's
// server, or the local PostgreSQL) and drops it, with the tenant roles, at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/local/bench"
)

// listMin keeps the deep page (half way through) a page away from the first one.
const listMin = 200

// sizes parses a comma-separated flag of counts, each at least least.
func sizes(flagName, value string, least int) []int {
	var out []int
	for _, f := range strings.Split(value, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < least {
			fmt.Fprintf(os.Stderr, "bench: -%s sizes must be integers ≥ %d\n", flagName, least)
			os.Exit(2)
		}
		out = append(out, n)
	}
	return out
}

func main() {
	cfg := bench.Config{Progress: os.Stderr}
	flag.IntVar(&cfg.N, "n", 500, "pipeline tenants for throughput")
	flag.IntVar(&cfg.C, "c", 2, "pipeline concurrency (the floor is also measured at this many workers)")
	flag.IntVar(&cfg.R, "r", 100, "pipeline runs, one at a time, for latency")
	flag.IntVar(&cfg.FloorN, "floor", 100, "floor tenants per floor measurement")
	flag.IntVar(&cfg.Scale, "scale", 10000, "tenants, with schemas, to repeat the pipeline figures at (0 skips it)")
	list := flag.String("list", "10000", "control-plane sizes to measure the list route at, comma-separated (\"\" skips it)")
	flag.IntVar(&cfg.Burst, "burst", 100, "tenants the burst phase onboards on 1 and on 8 deployer accounts (0 skips it)")
	flag.DurationVar(&cfg.BurstClose, "burst-close", 5*time.Second, "the Stellar double's ledger close in the burst phase")
	upgrades := flag.String("upgrade", "1000,10000", "tenant counts to measure the upgrade fan-out at, comma-separated (\"\" skips it)")
	flag.IntVar(&cfg.InsertWaitRows, "insert-wait", 300000, "audit rows of the tenants the upgrade insert wait is measured on (0 skips it)")
	flag.IntVar(&cfg.ListRequests, "list-requests", 2000, "requests per list percentile")
	flag.IntVar(&cfg.AuditCost, "audit-cost", 200, "tenants onboarded through the create route with the audit trail, and as many without it (0 skips it)")
	flag.IntVar(&cfg.AuditRecords, "audit-list", 1000000, "audit records to measure the audit list route at (0 skips it)")
	flag.BoolVar(&cfg.AuditOnly, "audit-only", false, "measure only the audit trail's phases (-audit-cost, -audit-list)")
	flag.IntVar(&cfg.StartupRuns, "startup", 5, "start every function binary this many times (0 skips it)")
	flag.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write the latency runs' CPU profile to this file (go tool pprof)")
	flag.StringVar(&cfg.MemProfile, "memprofile", "", "write a heap profile after the throughput run to this file (go tool pprof)")
	out := flag.String("out", "bench/results", "directory for the JSON result")
	flag.Parse()

	cfg.ListSizes = sizes("list", *list, listMin)
	cfg.UpgradeSizes = sizes("upgrade", *upgrades, 1)
	// Stopped by Ctrl-C or a kill, it still drops its database and the roles it made.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	bench.Print(os.Stdout, rep)
	path, err := bench.WriteJSON(*out, rep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: write result:", err)
		os.Exit(1)
	}
	fmt.Println("wrote", path)
}
