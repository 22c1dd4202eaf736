package wiring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Nothing here needs PostgreSQL: configuration is checked before anything is opened, and
// DATABASE_URL points at a port where no server listens.
const closedDB = "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"

// Pool reads the database settings itself: a missing, malformed or misplaced one (the
// master secret given to a function other than the migration) is a ConfigError naming the
// variable, returned before anything is opened; DB_MAX_CONNS sizes the pool.
func TestPoolReadsTheDatabaseSettings(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
	for _, c := range []struct {
		name, variable string
		user           catalog.DBUser
		env            map[string]string
	}{
		{"nothing set", "DB_HOST", catalog.APIReadUser, map[string]string{}},
		{"the migration without the master secret", "DB_SECRET_ARN", catalog.MigrationUser, map[string]string{"DB_HOST": "db.internal", "DB_NAME": "app"}},
		{"a function given the master secret", "DB_SECRET_ARN", catalog.ActivationUser, map[string]string{"DB_SECRET_ARN": arn}},
		{"DATABASE_URL deployed", "DATABASE_URL", catalog.APIReadUser, map[string]string{"DATABASE_URL": closedDB}},
		{"local without DATABASE_URL", "DATABASE_URL", catalog.APIReadUser, map[string]string{"APP_ENV": "local"}},
		{"DB_MAX_CONNS out of range", "DB_MAX_CONNS", catalog.APIReadUser, map[string]string{"APP_ENV": "local", "DATABASE_URL": closedDB, "DB_MAX_CONNS": "0"}},
		{"DB_PROXY not a boolean", "DB_PROXY", catalog.APIReadUser, map[string]string{"APP_ENV": "local", "DATABASE_URL": closedDB, "DB_PROXY": "yes"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			setDatabaseEnv(t, c.env)
			pool, err := Pool(context.Background(), aws.Config{}, c.user)
			var ce *fault.ConfigError
			if !errors.As(err, &ce) || ce.Variable != c.variable || pool != nil {
				t.Fatalf("Pool = %v, %v; want a ConfigError naming %s", pool, err, c.variable)
			}
		})
	}
	t.Run("DB_MAX_CONNS", func(t *testing.T) {
		setDatabaseEnv(t, map[string]string{"APP_ENV": "local", "DATABASE_URL": closedDB, "DB_MAX_CONNS": "7"})
		// The pool connects on first use, so it is built without a server.
		pool, err := Pool(context.Background(), aws.Config{}, catalog.APIReadUser)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		if got := pool.Config().MaxConns; got != 7 {
			t.Errorf("MaxConns = %d, want 7 from DB_MAX_CONNS", got)
		}
	})
}

// setDatabaseEnv sets the database variables to env's, the others to empty.
func setDatabaseEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range []string{"APP_ENV", "DATABASE_URL", "DB_SECRET_ARN", "DB_HOST", "DB_PORT", "DB_NAME", "DB_SSLMODE",
		"DB_SSLROOTCERT", "DB_MAX_CONNS", "DB_PROXY"} {
		t.Setenv(k, env[k])
	}
}

// A route given a malformed STATE_MACHINE_ARN does not start: it is a ConfigError that
// names the variable, returned before the pool is opened. Unset, the route runs without
// Step Functions (only the create and status routes are given it).
func TestNewAPIRefusesAMalformedStateMachineARN(t *testing.T) {
	for _, c := range []struct{ name, variable, arn string }{
		{"not an ARN", "STATE_MACHINE_ARN", "tenant-provisioning"},
		{"a function's ARN", "STATE_MACHINE_ARN", "arn:aws:lambda:us-east-1:123456789012:function:tenant-provisioning"},
		{"an execution's ARN", "STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:execution:tenant-provisioning:x"},
		{"the upgrade's, not an ARN", "UPGRADE_STATE_MACHINE_ARN", "tenant-provisioning-upgrade"},
		{"the upgrade's, an execution's ARN", "UPGRADE_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:execution:tenant-provisioning-upgrade:x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("APP_ENV", "local")
			t.Setenv("DATABASE_URL", closedDB)
			t.Setenv("STATE_MACHINE_ARN", "")
			t.Setenv("UPGRADE_STATE_MACHINE_ARN", "")
			t.Setenv(c.variable, c.arn)
			h, pool, err := NewAPI(context.Background(), slog.New(slog.DiscardHandler), catalog.CreateTenant)
			var ce *fault.ConfigError
			if !errors.As(err, &ce) || ce.Variable != c.variable || h != nil || pool != nil {
				t.Fatalf("NewAPI = %v, %v, %v; want a ConfigError naming %s", h, pool, err, c.variable)
			}
			if got := fault.Name(err); got != "ConfigError" {
				t.Errorf("error type %q, want ConfigError", got)
			}
			if strings.Contains(err.Error(), c.arn) {
				t.Errorf("the error repeats the value: %v", err)
			}
		})
	}
	t.Run("unset", func(t *testing.T) {
		t.Setenv("APP_ENV", "local")
		t.Setenv("DATABASE_URL", closedDB)
		t.Setenv("STATE_MACHINE_ARN", "")
		t.Setenv("UPGRADE_STATE_MACHINE_ARN", "")
		// The pool connects on first use, so the route is built without a server.
		h, pool, err := NewAPI(context.Background(), slog.New(slog.DiscardHandler), catalog.CreateTenant)
		if err != nil || h == nil {
			t.Fatalf("NewAPI with STATE_MACHINE_ARN unset: %v", err)
		}
		pool.Close()
	})
}

// The built function itself: a malformed STATE_MACHINE_ARN ends the process at start-up
// with exit status 1 and a JSON log line naming the error type and the variable.
func TestAPIFunctionExitsOnAMalformedStateMachineARN(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a function binary")
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	if out, err := exec.Command("go", "build", "-o", bin, "../../functions/api-create-tenant").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"APP_ENV=local", "DATABASE_URL=" + closedDB, "STATE_MACHINE_ARN=tenant-provisioning",
		"AWS_REGION=us-east-1", "AWS_LAMBDA_LOG_FORMAT=JSON"}
	var stderr, stdout bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &stdout
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("run: %v, want exit status 1\n%s%s", err, stdout.String(), stderr.String())
	}
	var line struct {
		Msg       string `json:"message"`
		ErrorType string `json:"errorType"`
		Variable  string `json:"variable"`
	}
	logs := stdout.String() + stderr.String()
	for l := range strings.Lines(logs) {
		if json.Unmarshal([]byte(l), &line) == nil && line.Msg == "start-up failed" {
			break
		}
	}
	if line.Msg != "start-up failed" || line.ErrorType != "ConfigError" || line.Variable != "STATE_MACHINE_ARN" {
		t.Errorf("start-up log = %+v; want ConfigError naming STATE_MACHINE_ARN in:\n%s", line, logs)
	}
}
