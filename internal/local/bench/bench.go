package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/local/scratchdb"
)

// Config says what to measure.
type Config struct {
	AdminURL string // server to create the bench database on; empty: scratchdb.AdminURL()
	N        int    // pipeline tenants for throughput
	C        int    // pipeline concurrency
	R        int    // pipeline runs for latency
	FloorN   int    // floor tenants per floor measurement
	// ListSizes are the control-plane sizes the list route is measured at (after the
	// pipeline figures); ListRequests is how many requests each percentile is taken over.
	ListSizes    []int
	ListRequests int
	// Scale, when positive, is the number of tenants (with their schemas) the pipeline
	// figures are measured again at.
	Scale int
	// Burst, when positive, is how many tenants the burst phase onboards, with the Stellar
	// double closing a ledger every BurstClose, on one deployer account and on a pool.
	Burst      int
	BurstClose time.Duration
	// UpgradeSizes are the numbers of tenants the upgrade fan-out is measured at, each
	// beside its floor.
	UpgradeSizes []int
	// InsertWaitRows, when positive, is the audit trail of the tenants the upgrade insert
	// wait is measured on: the longest wait of the tenant's inserts while an upgrade builds
	// an index of audit_logs, concurrently and inside a transaction.
	InsertWaitRows int
	// AuditCost, when positive, is how many tenants are onboarded through the create
	// route with the audit trail and as many without it, in alternating rounds.
	AuditCost int
	// AuditRecords, when positive, is the size of the audit trail the audit list route is
	// measured at (over ListRequests requests).
	AuditRecords int
	// AuditOnly skips every phase but the audit trail's (and the floor's warm-up).
	AuditOnly bool
	// StartupRuns, when positive, times every function binary's start that many times.
	StartupRuns int
	// CPUProfile, when set, is the file the one-at-a-time latency runs' CPU profile goes to
	// (go tool pprof reads it).
	CPUProfile string
	// MemProfile, when set, is the file a heap profile goes to after the first throughput
	// run (go tool pprof -sample_index=inuse_space reads what the process holds).
	MemProfile string
	// Progress, when set, gets a line as each phase starts.
	Progress io.Writer
}

// Targets of the issue.
const (
	throughputTarget = 0.60                  // pipeline ≥ 60 % of the floor at the same parallelism
	p50Slack         = 15 * time.Millisecond // p50 ≤ floor + 15 ms
	p95Slack         = 40 * time.Millisecond // p95 ≤ floor + 40 ms
)

func (c Config) validate() error {
	if c.N < 1 || c.C < 1 || c.R < 1 || c.FloorN < 1 {
		return errors.New("bench: n, c, r and floor must be at least 1")
	}
	return nil
}

func (c Config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

// Run creates a scratch database, measures, drops it with the roles it created, and
// returns the report.
func Run(ctx context.Context, cfg Config) (rep Report, err error) {
	if err := cfg.validate(); err != nil {
		return rep, err
	}
	if cfg.AdminURL == "" {
		cfg.AdminURL = scratchdb.AdminURL()
	}
	rep = Report{
		Timestamp: time.Now().UTC(),
		Flags: Flags{N: cfg.N, C: cfg.C, R: cfg.R, FloorN: cfg.FloorN, Scale: cfg.Scale, InsertWaitRows: cfg.InsertWaitRows,
			AuditCost: cfg.AuditCost, AuditRecords: cfg.AuditRecords},
		Machine: Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version()},
	}
	db, err := createDB(ctx, cfg.AdminURL)
	if err != nil {
		return rep, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		err = errors.Join(err, db.drop(cctx))
	}()
	if rep.Machine.PostgresVersion, rep.Machine.Fsync, err = serverFacts(ctx, db.URL); err != nil {
		return rep, err
	}
	// The pipeline migrates the control plane; start it first so the floor runs on the
	// same database in the same state.
	rig, err := startPipeline(ctx, db.URL)
	if err != nil {
		return rep, err
	}
	defer rig.close()

	if cfg.AuditOnly {
		results, err := measureAudit(ctx, cfg, rig, db)
		rep.Results = results
		rep.Summary = summarize(rep.Results)
		return rep, err
	}

	// A fresh database is slow for its first hundred tenants or so (the floor measured
	// first came out a third slower than the same measured again): warm it up untimed, so
	// that the floor is not flattered and the pipeline's ratio to it not inflated.
	cfg.progress("warm-up: %d floor tenants, 2 workers, untimed", cfg.FloorN)
	if _, err := db.floorRun(ctx, cfg.FloorN, 2); err != nil {
		return rep, err
	}
	floor, err := measureFloor(ctx, cfg, db)
	if err != nil {
		return rep, err
	}
	pipe, err := measurePipeline(ctx, cfg, rig, db, floor)
	if err != nil {
		return rep, err
	}
	rep.Results = append(floor.results, pipe...)
	cfg.progress("status: a provisioned tenant's full log")
	status, err := measureStatus(ctx, rig.stack.Pool, max(cfg.ListRequests, 100))
	if err != nil {
		return rep, err
	}
	rep.Results = append(rep.Results, status)
	cfg.progress("activation route: one redeem per provisioned tenant")
	activation, err := measureActivation(ctx, rig.stack.Pool, min(cfg.N, 200), floor.hashMs)
	if err != nil {
		return rep, err
	}
	rep.Results = append(rep.Results, activation...)
	if cfg.Scale > 0 {
		scale, err := measureScale(ctx, cfg, rig, db, rep.Results)
		if err != nil {
			return rep, err
		}
		rep.Results = append(rep.Results, scale...)
	}
	if cfg.Burst > 0 {
		burst, err := measureBurst(ctx, cfg, db)
		if err != nil {
			return rep, err
		}
		rep.Results = append(rep.Results, burst...)
	}
	if len(cfg.UpgradeSizes) > 0 {
		up, err := measureUpgrade(ctx, cfg, rig, db, cfg.UpgradeSizes)
		if err != nil {
			return rep, err
		}
		rep.Results = append(rep.Results, up...)
	}
	if cfg.InsertWaitRows > 0 {
		wait, err := measureInsertWait(ctx, cfg, rig.stack.Pool, db.URL, cfg.InsertWaitRows)
		if err != nil {
			return rep, err
		}
		rep.Results = append(rep.Results, wait...)
	}
	if len(cfg.ListSizes) > 0 {
		list, err := measureList(ctx, cfg, rig.stack.Pool, cfg.ListSizes, max(cfg.ListRequests, 100))
		if err != nil {
			return rep, err
		}
		rep.Results = append(rep.Results, list...)
	}
	auditResults, err := measureAudit(ctx, cfg, rig, db)
	if err != nil {
		return rep, err
	}
	rep.Results = append(rep.Results, auditResults...)
	if cfg.StartupRuns > 0 {
		startup, err := measureStartup(ctx, cfg, db.URL, cfg.StartupRuns)
		if err != nil {
			return rep, err
		}
		rep.Results = append(rep.Results, startup...)
	}
	rep.Summary = summarize(rep.Results)
	return rep, nil
}

// measureAudit measures the audit trail's phases the config asks for: its cost to
// onboarding, then the audit list route at AuditRecords records.
func measureAudit(ctx context.Context, cfg Config, rig *pipelineRig, db *benchDB) ([]Result, error) {
	var out []Result
	if cfg.AuditCost > 0 {
		cost, err := measureAuditCost(ctx, cfg, rig, cfg.AuditCost, cfg.C)
		if err != nil {
			return out, err
		}
		out = append(out, cost...)
	}
	if cfg.AuditRecords > 0 {
		list, err := measureAuditList(ctx, cfg, rig.stack.Pool, db.URL, cfg.AuditRecords, max(cfg.ListRequests, 100))
		if err != nil {
			return out, err
		}
		out = append(out, list...)
	}
	return out, nil
}

type floorFigures struct {
	seqMs  float64 // ms per tenant, sequential
	hashMs float64 // one argon2id password hash

	tpm     map[int]float64 // tenants/min by workers
	results []Result
}

func perMinute(count int, d time.Duration) float64 { return float64(count) / d.Minutes() }
func ms(d time.Duration) float64                   { return float64(d) / float64(time.Millisecond) }

func measureFloor(ctx context.Context, cfg Config, db *benchDB) (floorFigures, error) {
	f := floorFigures{tpm: map[int]float64{}}
	hashes := min(cfg.FloorN, 20)
	cfg.progress("argon2id hash alone ×%d", hashes)
	hd, err := hashOnly(hashes)
	if err != nil {
		return f, err
	}
	hashMs := ms(hd) / float64(hashes)
	f.hashMs = hashMs

	workers := []int{1, 2, 4}
	if !slices.Contains(workers, cfg.C) {
		workers = append(workers, cfg.C)
	}
	for _, w := range workers {
		cfg.progress("floor: %d tenants, %d worker(s)", cfg.FloorN, w)
		d, err := db.floorRun(ctx, cfg.FloorN, w)
		if err != nil {
			return f, err
		}
		f.tpm[w] = perMinute(cfg.FloorN, d)
		if w == 1 {
			f.seqMs = ms(d) / float64(cfg.FloorN)
		}
	}
	// The seed step no longer hashes anything (the admin holds an unusable marker until
	// activation): the baseline is the floor as it was, with that argon2id hash added.
	withHash := f.seqMs + hashMs
	f.results = append(f.results,
		newResult("floor sequential", f.seqMs, "ms/tenant", withHash, "floor plus the argon2id hash provisioning used to compute"),
		newResult("floor sequential", f.tpm[1], "tenants/min", 60000/withHash, "floor plus the argon2id hash provisioning used to compute"),
		newResult("argon2id hash alone", hashMs, "ms", f.seqMs, "floor sequential"))
	for _, w := range workers[1:] {
		f.results = append(f.results,
			newResult(fmt.Sprintf("floor %d workers", w), f.tpm[w], "tenants/min", f.tpm[1], "floor sequential"))
	}
	return f, nil
}

func measurePipeline(ctx context.Context, cfg Config, rig *pipelineRig, db *benchDB, floor floorFigures) ([]Result, error) {
	cfg.progress("pipeline: warm-up")
	if _, err := rig.throughput(ctx, cfg.C, cfg.C); err != nil {
		return nil, err
	}
	cfg.progress("pipeline: %d tenants, concurrency %d", cfg.N, cfg.C)
	// In two halves, reading the process's resident memory after each: once the run is
	// steady it must not grow with the number of tenants. The peak is read over the whole
	// run; the timing leaves out the two readings (each forces a collection).
	half := cfg.N / 2
	resetPeak()
	d1, err := rig.throughput(ctx, half, cfg.C)
	if err != nil {
		return nil, err
	}
	rssHalf := residentMiB()
	d2, err := rig.throughput(ctx, cfg.N-half, cfg.C)
	if err != nil {
		return nil, err
	}
	peak := peakMiB()
	rssFull := residentMiB()
	if err := writeHeapProfile(cfg.MemProfile); err != nil {
		return nil, err
	}
	d := d1 + d2
	tp := newResult(pipelineThroughput(cfg.C), perMinute(cfg.N, d), "tenants/min",
		floor.tpm[cfg.C], fmt.Sprintf("floor %d workers", cfg.C))
	tp.Target = fmt.Sprintf("ratio ≥ %.2f", throughputTarget)
	tp.Margin = tp.Ratio - throughputTarget
	tp.Met = ptr(tp.Margin >= 0)

	cfg.progress("pipeline: %d tenants one at a time, each after a floor tenant", cfg.R)
	sample, closeFloor, err := db.floorSampler(ctx)
	if err != nil {
		return nil, err
	}
	defer closeFloor()
	stopProfile, err := startCPUProfile(cfg.CPUProfile)
	if err != nil {
		return nil, err
	}
	lat, base, parts, err := rig.latencies(ctx, cfg.R, sample)
	if err := errors.Join(err, stopProfile()); err != nil {
		return nil, err
	}
	floorP50 := ms(percentile(base, 50))
	latency := func(p float64, slack time.Duration) Result {
		r := newResult(fmt.Sprintf("pipeline latency p%.0f", p), ms(percentile(lat, p)), "ms/tenant",
			floorP50, "floor p50, interleaved")
		r.Target = fmt.Sprintf("≤ floor + %.0f ms", ms(slack))
		r.Margin = floorP50 + ms(slack) - r.Value
		r.Met = ptr(r.Margin >= 0)
		return r
	}
	rss := newResult(fmt.Sprintf("resident memory after %d tenants", cfg.N), rssFull, "MiB", rssHalf, fmt.Sprintf("after %d tenants", half))
	peakRSS := newResult(fmt.Sprintf("peak resident memory, %d tenants at c=%d", cfg.N, cfg.C), peak, "MiB", rssFull, "resident after the run")
	out := []Result{tp, latency(50, p50Slack), latency(95, p95Slack)}
	out = append(out, parts.results(floorP50)...)
	return append(out, rss, peakRSS), nil
}

func ptr[T any](v T) *T { return &v }

func pipelineThroughput(c int) string { return fmt.Sprintf("pipeline throughput c=%d", c) }

// startCPUProfile profiles this process's CPU into path until the returned stop; an empty
// path profiles nothing.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	return func() error { pprof.StopCPUProfile(); return f.Close() }, nil
}

// residentMiB is what this process keeps resident once its garbage is collected and
// handed back (VmRSS after a GC and FreeOSMemory): the memory it holds on to, without the
// collector's timing in it. 0 where /proc is missing.
func residentMiB() float64 {
	runtime.GC()
	debug.FreeOSMemory()
	return procStatusMiB("VmRSS")
}

// writeHeapProfile writes the heap profile to path, once (the scale phase's second run
// leaves it); an empty path writes nothing.
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: heap profile: %w", err)
	}
	return errors.Join(pprof.WriteHeapProfile(f), f.Close())
}

// resetPeak starts a new peak-resident-memory window (VmHWM), where Linux allows it.
func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakMiB is the process's peak resident memory (VmHWM) since resetPeak.
func peakMiB() float64 { return procStatusMiB("VmHWM") }

func procStatusMiB(field string) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kib float64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kib); err == nil {
				return kib / 1024
			}
		}
	}
	return 0
}
