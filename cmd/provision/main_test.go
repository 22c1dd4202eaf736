package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/healthstack/tenant-provisioning/internal/awstest"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testdb"
)

const definitionFile = "../../statemachine/provisioning.asl.json"

// The README's first command: one tenant through the real definition, each state printed,
// and nothing personal in what it prints or logs.
func TestProvisionFollowsTheDefinition(t *testing.T) {
	t.Parallel()
	ses := sesv2.NewFromConfig(awstest.Config(t))
	from := awstest.UniqueName("noreply") + "@provisioning.example"
	if _, err := ses.CreateEmailIdentity(context.Background(), &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
		t.Fatal(err)
	}
	withEmail := &pipeline.EmailSettings{Mailer: email.NewSender(ses, from, ""), AppBaseURL: "http://localhost:3000",
		TenantURLTemplate: "http://localhost:3000/t/{tenantId}", ActivationTTL: time.Hour}

	cases := []struct {
		name      string
		email     *pipeline.EmailSettings
		contracts bool
		want      []string
	}{
		{"database steps only", nil, false, []string{
			"note: e-mail is not configured", "SendWelcomeEmail         skipped",
			"DeploySorobanContract    skipped", "StoreContractAddress     skipped",
		}},
		{"everything local", withEmail, true, []string{
			"contracts: in-process Stellar RPC double", "DeploySorobanContract    ok", `"created":true`,
			"StoreContractAddress     ok", "SendWelcomeEmail         ok", `"messageId":`, "e-mail went to SES",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, url := testdb.NewWithURL(t)
			reg := tenant.Registration{Name: "Readme Clinic", AdminEmail: awstest.UniqueName("ada") + "@readme-clinic.example", AdminFirstName: "Adazz", AdminLastName: "Lovelacezz"}
			var out, logs bytes.Buffer
			o := options{dsn: url, definition: definitionFile, reg: reg, log: slog.New(slog.NewJSONHandler(&logs, nil)), email: c.email}
			if c.contracts {
				o.contracts = localDouble
			}
			if err := run(context.Background(), &out, o); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			printed := out.String()
			want := append([]string{
				"CreateTenantRecord       ok", "CreateSchema             ok", "RunMigrations            ok",
				"SeedRolesAndUser         ok", "ActivateTenant           ok", "Provisioned              succeeded", "is ACTIVE, schema t_readme_clinic_",
			}, c.want...)
			for _, w := range want {
				if !strings.Contains(printed, w) {
					t.Errorf("output lacks %q:\n%s", w, printed)
				}
			}
			for _, personal := range []string{reg.AdminEmail, reg.AdminFirstName, reg.AdminLastName} {
				if strings.Contains(printed, personal) || strings.Contains(logs.String(), personal) {
					t.Errorf("%q printed or logged", personal)
				}
			}
			if n := len(awstest.SentTo(t, reg.AdminEmail)); (n == 1) != (c.email != nil) {
				t.Errorf("%d welcome e-mails sent", n)
			}

			// The same name again is refused before anything runs.
			out.Reset()
			o.log = slog.New(slog.DiscardHandler)
			err := run(context.Background(), &out, o)
			if err == nil || !strings.Contains(err.Error(), "already exists") || strings.Contains(out.String(), "CreateSchema") {
				t.Errorf("duplicate: err=%v output=%s", err, out.String())
			}
		})
	}
}

func TestProvisionRejectsBadInput(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), &out, options{dsn: "postgres://unused", definition: definitionFile,
		reg: tenant.Registration{Name: "X", AdminEmail: "not-an-email"}, log: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("bad input accepted")
	}
	for _, want := range []string{"-name:", "-admin-email:", "-admin-first-name:", "-admin-last-name:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
