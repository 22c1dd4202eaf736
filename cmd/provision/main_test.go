package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/testdb"
)

// The README's first command: one tenant through the real definition, each state printed,
// and nothing personal in what it prints or logs.
func TestProvisionFollowsTheDefinition(t *testing.T) {
	t.Parallel()
	_, url := testdb.NewWithURL(t)
	reg := tenant.Registration{Name: "Readme Clinic", AdminEmail: "ada.zz@readme-clinic.example", AdminFirstName: "Adazz", AdminLastName: "Lovelacezz"}
	var out, logs bytes.Buffer
	err := run(context.Background(), &out, url, "../../statemachine/provisioning.asl.json", reg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	printed := out.String()
	for _, want := range []string{
		"CreateTenantRecord       ok", "CreateSchema             ok", "RunMigrations            ok",
		"SeedRolesAndUser         ok", "DeploySorobanContract    skipped", "StoreContractAddress     skipped",
		"SendWelcomeEmail         skipped", "ActivateTenant           ok", "Provisioned              succeeded",
		"is ACTIVE, schema t_readme_clinic_",
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("output lacks %q:\n%s", want, printed)
		}
	}
	for _, personal := range []string{reg.AdminEmail, reg.AdminFirstName, reg.AdminLastName} {
		if strings.Contains(printed, personal) || strings.Contains(logs.String(), personal) {
			t.Errorf("%q printed or logged", personal)
		}
	}

	// The same name again is refused before anything runs.
	out.Reset()
	err = run(context.Background(), &out, url, "../../statemachine/provisioning.asl.json", reg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "already exists") || strings.Contains(out.String(), "CreateSchema") {
		t.Errorf("duplicate: err=%v output=%s", err, out.String())
	}
}

func TestProvisionRejectsBadInput(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), &out, "postgres://unused", "../../statemachine/provisioning.asl.json",
		tenant.Registration{Name: "X", AdminEmail: "not-an-email"}, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("bad input accepted")
	}
	for _, want := range []string{"-name:", "-admin-email:", "-admin-first-name:", "-admin-last-name:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
