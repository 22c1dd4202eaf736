// Command provision onboards one tenant on a developer machine: it reserves the tenant as
// the admin API does, then runs its execution of statemachine/provisioning.asl.json in the
// local ASL engine with the real step handlers (local PostgreSQL; e-mail to SES in an AWS
// API emulator; contracts to a Stellar RPC double unless SOROBAN_RPC_URL is set), printing
// each state as it happens and saving the execution history as JSON.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/local/asl"
	"github.com/healthstack/tenant-provisioning/internal/local/devstack"
	"github.com/healthstack/tenant-provisioning/internal/local/execution"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

func main() {
	var reg tenant.Registration
	flag.StringVar(&reg.Name, "name", "", "tenant display name (required)")
	flag.StringVar(&reg.AdminEmail, "admin-email", "", "tenant admin's e-mail address (required)")
	flag.StringVar(&reg.AdminFirstName, "admin-first-name", "", "tenant admin's first name (required)")
	flag.StringVar(&reg.AdminLastName, "admin-last-name", "", "tenant admin's last name (required)")
	historyDir := flag.String("history-dir", ".local/executions", "where to save each execution's history (JSON)")
	verbose := flag.Bool("v", false, "also print the functions' JSON logs")
	flag.Parse()

	logOut := io.Discard
	if *verbose {
		logOut = os.Stderr
	}
	db, err := config.LoadDatabase()
	if err == nil {
		err = run(context.Background(), os.Stdout, options{
			reg: reg, historyDir: *historyDir,
			stack: devstack.Options{DatabaseURL: db.URL, Log: slog.New(slog.NewJSONHandler(logOut, nil))},
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "provision:", err)
		os.Exit(1)
	}
}

type options struct {
	reg        tenant.Registration
	historyDir string
	stack      devstack.Options
	clock      asl.Clock // nil: real time
}

func run(ctx context.Context, w io.Writer, o options) error {
	reg, err := o.reg.Normalize()
	if err != nil {
		var ve *fault.ValidationError
		if errors.As(err, &ve) {
			for _, f := range ve.Fields {
				fmt.Fprintf(w, "  -%s: %s\n", flagName(f.Field), f.Message)
			}
		}
		return errors.New("invalid tenant registration")
	}
	stack, err := devstack.Start(ctx, o.stack)
	if err != nil {
		return err
	}
	defer stack.Close()
	for _, n := range stack.Notes {
		fmt.Fprintln(w, n)
	}
	for fn, why := range stack.Unconfigured {
		fmt.Fprintf(w, "note: %s will fail with ConfigError: %s\n", fn, why)
	}

	st := store.New(stack.Pool)
	t, err := st.Reserve(ctx, reg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "reserved tenant %s (PENDING)\n", t.ID)

	runner, err := execution.NewRunner(stack.Catalog, execution.Options{Clock: o.clock, OnEvent: printEvent(w)})
	if err != nil {
		return err
	}
	started, _, err := runner.Start(ctx, t.ID)
	if err != nil {
		return err
	}
	exec := started.Wait()

	if t, err = st.Get(ctx, t.ID); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nexecution %s %s in %v\n", exec.Arn, exec.Status, exec.StopDate.Sub(exec.StartDate).Round(time.Millisecond))
	fmt.Fprintf(w, "tenant %s is %s, schema %s\n", t.ID, t.Status, orNone(t.SchemaName))
	if t.ContractID != "" {
		fmt.Fprintf(w, "contract %s\n", t.ContractID)
	}
	if t.ProvisioningError != "" {
		fmt.Fprintf(w, "error: %s\n", t.ProvisioningError)
	}
	if o.historyDir != "" {
		path, err := saveHistory(o.historyDir, exec)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "history: %s\n", path)
	}
	if exec.Status != asl.StatusSucceeded {
		return fmt.Errorf("execution %s: %s", exec.Status, exec.Error)
	}
	return nil
}

// printEvent prints what a person following the execution cares about: each state's end
// with its function's result, each failed attempt, and a failing end.
func printEvent(w io.Writer) func(string, asl.Event) {
	entered := map[string]time.Time{}
	result := map[string]string{}
	return func(_ string, ev asl.Event) {
		switch {
		case ev.Type == "FailStateEntered":
			fmt.Fprintf(w, "%-24s failing the execution\n", ev.StateName)
		case strings.HasSuffix(string(ev.Type), "StateEntered"):
			entered[ev.StateName] = ev.Timestamp
			delete(result, ev.StateName)
		case ev.Type == "LambdaFunctionSucceeded":
			result[ev.StateName] = string(ev.Output)
		case ev.Type == "LambdaFunctionFailed" || ev.Type == "LambdaFunctionTimedOut":
			fmt.Fprintf(w, "%-24s attempt failed: %s: %s\n", ev.StateName, ev.Error, firstLine(ev.Cause))
		case strings.HasSuffix(string(ev.Type), "StateExited"):
			took := ev.Timestamp.Sub(entered[ev.StateName]).Round(time.Millisecond)
			out, ok := result[ev.StateName]
			switch {
			case ok:
				fmt.Fprintf(w, "%-24s done in %v: %s\n", ev.StateName, took, out)
			case ev.Type == "TaskStateExited":
				fmt.Fprintf(w, "%-24s failed after %v; its Catch takes over\n", ev.StateName, took)
			default:
				fmt.Fprintf(w, "%-24s done\n", ev.StateName)
			}
		}
	}
}

func saveHistory(dir string, exec asl.Execution) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(exec, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, exec.Name+".json")
	return path, os.WriteFile(path, b, 0o640)
}

func firstLine(s string) string {
	var cause struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(s), &cause) == nil && cause.ErrorMessage != "" {
		s = cause.ErrorMessage
	}
	s, _, _ = strings.Cut(s, "\n")
	return s
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
