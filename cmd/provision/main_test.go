package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/local/asl"
	"github.com/healthstack/tenant-provisioning/internal/local/devstack"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// The README's first command: one tenant through the real definition in the local engine,
// each state printed, the history saved, and nothing personal in what it prints or logs.
func TestProvisionRunsTheDefinitionLocally(t *testing.T) {
	t.Parallel()
	ses := sesv2.NewFromConfig(awstest.Config(t))
	from := awstest.UniqueName("noreply") + "@provisioning.example"
	if _, err := ses.CreateEmailIdentity(context.Background(), &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
		t.Fatal(err)
	}
	mailer := email.NewSender(ses, from, "")
	mail := config.Email{AppBaseURL: "http://localhost:3000", TenantURLTemplate: "http://localhost:3000/t/{tenantId}", ActivationTTL: time.Hour}

	cases := []struct {
		name      string
		mailer    pipeline.Mailer
		contracts devstack.Contracts
		want      []string
		wantErr   string
	}{
		{"everything local", mailer, devstack.ContractsDouble, []string{
			"contracts: Stellar RPC double", "DeploySorobanContract    done", "StoreContractAddress     done",
			"SendWelcomeEmail         done", "ActivateTenant           done", "SUCCEEDED", "is ACTIVE", "contract C",
		}, ""},
		{"without e-mail the tenant is active but unwelcomed", nil, devstack.ContractsDouble, []string{
			"note: SendWelcomeEmailFunction will fail with ConfigError", "ActivateTenant           done",
			"SendWelcomeEmail         attempt failed: ConfigError", "WelcomeEmailNotSent      failing the execution", "is ACTIVE",
		}, "execution FAILED: ConfigError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, url := testdb.NewWithURL(t)
			reg := tenant.Registration{Name: "Readme Clinic", AdminEmail: awstest.UniqueName("ada") + "@readme-clinic.example", AdminFirstName: "Adazz", AdminLastName: "Lovelacezz"}
			var out, logs bytes.Buffer
			dir := t.TempDir()
			o := options{reg: reg, historyDir: dir, clock: asl.NewFastClock(), stack: devstack.Options{
				DatabaseURL: url, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Mailer: c.mailer, Email: mail, NoEmail: c.mailer == nil, Contracts: c.contracts,
			}}
			err := run(context.Background(), &out, o)
			if (c.wantErr == "" && err != nil) || (c.wantErr != "" && (err == nil || err.Error() != c.wantErr)) {
				t.Fatalf("run: %v, want %q\n%s", err, c.wantErr, out.String())
			}
			printed := out.String()
			for _, w := range append([]string{"CreateTenantRecord       done", "SeedRolesAndUser         done", "history: "}, c.want...) {
				if !strings.Contains(printed, w) {
					t.Errorf("output lacks %q:\n%s", w, printed)
				}
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
			if len(files) != 1 {
				t.Fatalf("history files: %v", files)
			}
			raw, _ := os.ReadFile(files[0])
			var exec asl.Execution
			if err := json.Unmarshal(raw, &exec); err != nil || len(exec.Events) < 10 {
				t.Errorf("history file: %v, %d events", err, len(exec.Events))
			}
			for _, personal := range []string{reg.AdminEmail, reg.AdminFirstName, reg.AdminLastName} {
				if strings.Contains(printed, personal) || strings.Contains(logs.String(), personal) || strings.Contains(string(raw), personal) {
					t.Errorf("%q printed, logged or in the history", personal)
				}
			}
		})
	}
}

func TestProvisionRejectsBadInput(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), &out, options{reg: tenant.Registration{Name: "X", AdminEmail: "not-an-email"}})
	if err == nil {
		t.Fatal("bad input accepted")
	}
	for _, want := range []string{"-name:", "-admin-email:", "-admin-first-name:", "-admin-last-name:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
