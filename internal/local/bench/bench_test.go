package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunWritesEveryFigure runs a tiny bench against a throw-away database and checks the
// result file, never the speed.
func TestRunWritesEveryFigure(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{N: 5, C: 2, R: 3, FloorN: 3, Scale: 60, ListSizes: []int{300}, ListRequests: 100,
		UpgradeSizes: []int{40, 90}, InsertWaitRows: 10000, Burst: 16, BurstClose: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, err := WriteJSON(dir, rep)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Ext(path) != ".json" {
		t.Errorf("result file %s is not .json", path)
	}
	var got Report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"floor sequential/ms/tenant", "floor sequential/tenants/min",
		"floor 2 workers/tenants/min", "floor 4 workers/tenants/min",
		"pipeline throughput c=2/tenants/min",
		"pipeline latency p50/ms/tenant", "pipeline latency p95/ms/tenant",
		"list handler p99, 300 tenants, first page/ms", "list DB p99, 300 tenants, deep page/ms",
		"status handler p99, full log/ms", "activation route p99/ms", "argon2id hash alone/ms",
		"latency p50 of DeploySorobanContract/ms", "latency p50 of reserve/ms",
		"upgrade fan-out 40 tenants/s", "upgrade rate 40 tenants/tenants/s",
		"upgrade fan-out 90 tenants/s", "upgrade rate 90 tenants/tenants/s",
		"burst 16 tenants, 8 accounts/tenants/min",
		"upgrade insert wait/ms", "upgrade insert wait, old 003/ms",
	}
	seen := map[string]Result{}
	for _, r := range got.Results {
		seen[r.Name+"/"+r.Unit] = r
	}
	for _, k := range want {
		r, ok := seen[k]
		if !ok {
			t.Errorf("figure %s missing from %s", k, path)
			continue
		}
		if r.Value <= 0 || r.Baseline <= 0 || r.Ratio <= 0 {
			t.Errorf("figure %s: value %v baseline %v ratio %v, want all positive", k, r.Value, r.Baseline, r.Ratio)
		}
	}
	// The scale phase names its figures after the tenants then present (60 and a few
	// the floor made); each repeats a figure at the start, which is its baseline.
	var atScale []Result
	for _, r := range got.Results {
		if strings.Contains(r.Name, " at ") && strings.HasSuffix(r.Name, " tenants") && r.BaselineName == "same figure at the start" {
			atScale = append(atScale, r)
		}
	}
	scaleVerdicts := 0
	for _, r := range atScale {
		if r.Met != nil {
			scaleVerdicts++
		}
	}
	if len(atScale) < 10 || scaleVerdicts < 3 {
		t.Errorf("scale phase: %d figures with %d target verdicts, want the pipeline's repeated with throughput and latency judged", len(atScale), scaleVerdicts)
	}
	for _, k := range []string{"pipeline throughput c=2/tenants/min", "pipeline latency p50/ms/tenant", "pipeline latency p95/ms/tenant",
		"upgrade rate 40 tenants/tenants/s"} {
		if seen[k].Met == nil {
			t.Errorf("figure %s has no target verdict", k)
		}
	}
	m := got.Machine
	if m.Cores <= 0 || m.GoVersion == "" || m.PostgresVersion == "" || m.Fsync == "" {
		t.Errorf("machine facts incomplete: %+v", m)
	}
	if got.Flags != (Flags{N: 5, C: 2, R: 3, FloorN: 3, Scale: 60, InsertWaitRows: 10000}) || got.Timestamp.IsZero() || got.Summary == "" {
		t.Errorf("flags/timestamp/summary: %+v %v %q", got.Flags, got.Timestamp, got.Summary)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(ds, 50); p != 50*time.Millisecond {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(ds, 95); p != 95*time.Millisecond {
		t.Errorf("p95 = %v", p)
	}
	if p := percentile(ds[:1], 95); p != time.Millisecond {
		t.Errorf("p95 of one = %v", p)
	}
}
