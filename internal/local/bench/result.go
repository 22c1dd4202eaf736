// Package bench measures tenant provisioning on this machine: a floor (one tenant's DDL,
// seed and password hash as a single transaction, with no pipeline around it) and the real
// pipeline (reserve, then the ASL definition in the local engine with every real step
// handler). Every figure is printed next to a baseline measured in the same run. Speed is
// reported, never asserted.
package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Result is one figure next to its baseline.
type Result struct {
	Name         string  `json:"name"`
	Value        float64 `json:"value"`
	Unit         string  `json:"unit"`
	Baseline     float64 `json:"baseline"`
	BaselineName string  `json:"baselineName"`
	// Ratio is Value / Baseline; Delta is Value - Baseline.
	Ratio float64 `json:"ratio"`
	Delta float64 `json:"delta"`
	// Target, when set, says what the figure should reach; Met and Margin say whether it
	// did and by how much (positive: met with room to spare, in Unit or as a ratio).
	Target string  `json:"target,omitempty"`
	Met    *bool   `json:"met,omitempty"`
	Margin float64 `json:"margin,omitempty"`
}

func newResult(name string, value float64, unit string, baseline float64, baselineName string) Result {
	r := Result{Name: name, Value: value, Unit: unit, Baseline: baseline, BaselineName: baselineName}
	if baseline != 0 {
		r.Ratio = value / baseline
	}
	r.Delta = value - baseline
	return r
}

// Machine holds the facts the figures depend on.
type Machine struct {
	Cores           int    `json:"cores"`
	GoVersion       string `json:"goVersion"`
	PostgresVersion string `json:"postgresVersion"`
	Fsync           string `json:"fsync"`
}

// Report is one run's output.
type Report struct {
	Timestamp time.Time `json:"timestamp"`
	Machine   Machine   `json:"machine"`
	Flags     Flags     `json:"flags"`
	Results   []Result  `json:"results"`
	Summary   string    `json:"summary"`
}

// Flags are the knobs of one run.
type Flags struct {
	N      int `json:"n"`
	C      int `json:"c"`
	R      int `json:"r"`
	FloorN int `json:"floorN"`
	Scale  int `json:"scale,omitempty"`
	// InsertWaitRows is the audit trail of the upgrade insert wait's tenants.
	InsertWaitRows int `json:"insertWaitRows,omitempty"`
	// AuditCost is the tenants onboarded each way (with and without the audit trail);
	// AuditRecords the audit trail's size for the audit list route.
	AuditCost    int `json:"auditCost,omitempty"`
	AuditRecords int `json:"auditRecords,omitempty"`
}

// WriteJSON writes the report to dir/<UTC timestamp>.json, creating dir, and returns the path.
func WriteJSON(dir string, rep Report) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, rep.Timestamp.UTC().Format("20060102T150405Z")+".json")
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}

// Print writes one line per figure, then the summary.
func Print(w io.Writer, rep Report) {
	m := rep.Machine
	fmt.Fprintf(w, "machine: %d cores, %s, PostgreSQL %s, fsync=%s; n=%d c=%d r=%d floor=%d scale=%d\n",
		m.Cores, m.GoVersion, m.PostgresVersion, m.Fsync, rep.Flags.N, rep.Flags.C, rep.Flags.R, rep.Flags.FloorN, rep.Flags.Scale)
	for _, r := range rep.Results {
		line := fmt.Sprintf("%-28s %9.1f %-11s | baseline %9.1f (%s) | ratio %.2f, delta %+.1f",
			r.Name, r.Value, r.Unit, r.Baseline, r.BaselineName, r.Ratio, r.Delta)
		if r.Met != nil {
			line += fmt.Sprintf("  target %s: %s", r.Target, metWord(*r.Met))
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, rep.Summary)
}

func metWord(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

func summarize(results []Result) string {
	var parts []string
	for _, r := range results {
		if r.Met == nil {
			continue
		}
		how := "met by"
		if !*r.Met {
			how = "missed by"
		}
		m := r.Margin
		if m < 0 {
			m = -m
		}
		amount := fmt.Sprintf("%.1f %s", m, r.Unit)
		if strings.HasPrefix(r.Target, "ratio") {
			amount = fmt.Sprintf("%.1f points", m*100)
		}
		parts = append(parts, fmt.Sprintf("%s (%s) %s %s", r.Name, r.Target, how, amount))
	}
	return "targets: " + strings.Join(parts, "; ")
}
