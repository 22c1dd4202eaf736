package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// An EMF line must have the metric values at the top level, and every metric and dimension
// it declares must be present there, or CloudWatch drops it.
func TestLinesAreValidEMF(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	ctx := context.Background()
	Step(ctx, log, "step completed", "CREATE_SCHEMA", Success, 12*time.Millisecond)
	Provisioned(ctx, log, 1500*time.Millisecond)
	RolledBack(ctx, log, "RUN_MIGRATIONS")

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	want := []string{"StepDuration", "ProvisioningDuration", "Rollbacks"}
	for i, line := range lines {
		var ev map[string]any
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		aws, ok := ev["_aws"].(map[string]any)
		if !ok || aws["Timestamp"] == nil {
			t.Fatalf("line %d has no _aws metadata: %s", i, line)
		}
		directive := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
		if directive["Namespace"] != Namespace {
			t.Errorf("namespace %v", directive["Namespace"])
		}
		var names []string
		for _, m := range directive["Metrics"].([]any) {
			name := m.(map[string]any)["Name"].(string)
			names = append(names, name)
			if _, ok := ev[name].(float64); !ok {
				t.Errorf("line %d declares %s without a numeric value", i, name)
			}
		}
		if !slices.Contains(names, want[i]) {
			t.Errorf("line %d metrics %v, want %s", i, names, want[i])
		}
		for _, set := range directive["Dimensions"].([]any) {
			for _, d := range set.([]any) {
				if _, ok := ev[d.(string)].(string); !ok {
					t.Errorf("line %d declares dimension %v without a value", i, d)
				}
			}
		}
	}
}

// Names lists exactly the metrics the package's functions emit: the dashboard's test
// holds the template to it.
func TestNamesAreWhatIsEmitted(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	ctx := context.Background()
	Step(ctx, log, "step completed", "CREATE_SCHEMA", Success, time.Millisecond)
	Provisioned(ctx, log, time.Second)
	RolledBack(ctx, log, "RUN_MIGRATIONS")
	Reconciled(ctx, log, 3, 1, 1, 0)
	var emitted []string
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var ev struct {
			AWS struct {
				CloudWatchMetrics []struct{ Metrics []metric } `json:"CloudWatchMetrics"`
			} `json:"_aws"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		for _, d := range ev.AWS.CloudWatchMetrics {
			for _, m := range d.Metrics {
				emitted = append(emitted, m.Name)
			}
		}
	}
	names := Names()
	slices.Sort(emitted)
	slices.Sort(names)
	if !slices.Equal(emitted, names) {
		t.Errorf("emitted %v, Names %v", emitted, names)
	}
}
