package devserver

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/local/seed"
	"github.com/healthstack/tenant-provisioning/internal/outbox"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
	"github.com/healthstack/tenant-provisioning/internal/testkit/bustest"
)

// Every lifecycle path, driven over HTTP through the real routes, engine and steps, puts
// exactly one event per transition on the bus (a bus of the test's own in the AWS API
// emulator, whose events reach an SQS queue), each valid against its schema, with the
// request that made it where a request did, and none holding an admin's e-mail or name:
// an onboarding (reserved, provisioning started, activated), the admin's activation, an
// archive; a failure (rolled back: failed) and its retry to ACTIVE; an upgrade run's end.
func TestLifecycleEventsOverHTTP(t *testing.T) {
	t.Parallel()
	bus := bustest.New(t)
	fail := &atomic.Bool{}
	srv := startLocal(t, func(c *Config) {
		c.EventBusName = bus.Name
		c.Wrap = func(c map[string]lambda.Handler) map[string]lambda.Handler {
			c[catalog.ActivateTenant.LogicalID] = failSwitch{Handler: c[catalog.ActivateTenant.LogicalID], on: fail}
			return c
		}
	})
	admin := client{t: t, base: srv.APIURL, token: srv.AdminToken}
	st := store.New(srv.Stack.Pool)

	// Onboarded, activated by its admin, archived.
	_, createHdr, created := admin.do("POST", "/admin/tenants", `{"name":"Evented Clinic","adminEmail":"eve@evented.example","adminFirstName":"Evelina","adminLastName":"Eventful"}`)
	id := created["tenantId"].(string)
	admin.waitForExecution(created["statusUrl"].(string), "SUCCEEDED")
	mail := srv.Outbox.SentTo("eve@evented.example")
	if len(mail) != 1 {
		t.Fatalf("%d e-mails, want the welcome", len(mail))
	}
	link := regexp.MustCompile(`#tenant=([0-9a-f-]{36})&token=([A-Za-z0-9_-]{43})`).FindStringSubmatch(mail[0].Text)
	if link == nil {
		t.Fatal("no activation link")
	}
	code, activateHdr, _ := (client{t: t, base: srv.APIURL}).do("POST", "/activation",
		`{"tenantId":"`+link[1]+`","token":"`+link[2]+`","password":"a sturdy quiet harbour lantern"}`)
	if code != http.StatusOK {
		t.Fatalf("POST /activation = %d", code)
	}
	code, archiveHdr, _ := admin.do("DELETE", "/admin/tenants/"+id, "")
	if code != http.StatusOK {
		t.Fatalf("DELETE = %d", code)
	}

	// Failed, rolled back, retried to ACTIVE.
	fail.Store(true)
	_, doomedHdr, doomed := admin.do("POST", "/admin/tenants", `{"name":"Evented Doomed","adminEmail":"dan@evented.example","adminFirstName":"Danae","adminLastName":"Doomsday"}`)
	doomedID := doomed["tenantId"].(string)
	admin.waitFor(doomed["statusUrl"].(string), "FAILED")
	fail.Store(false)
	code, retryHdr, retried := admin.do("POST", "/admin/tenants/"+doomedID+"/retry", "")
	if code != http.StatusAccepted {
		t.Fatalf("retry = %d %v", code, retried)
	}
	admin.waitForExecution(retried["statusUrl"].(string), "SUCCEEDED")

	// An upgrade run over tenants a migration behind.
	if _, err := seed.Behind(context.Background(), srv.Stack.Pool, "Evented Upgrade Clinic", 2, tenantdb.LatestVersion()-1, 2); err != nil {
		t.Fatal(err)
	}
	code, hdr, run := admin.do("POST", "/admin/upgrades", "")
	if code != http.StatusAccepted {
		t.Fatalf("POST /admin/upgrades = %d %v", code, run)
	}
	admin.poll(hdr.Get("Location"), "SUCCEEDED", func(b map[string]any) bool { return b["status"] == "SUCCEEDED" })

	// Before the publisher runs, the events wait in the outbox, which the dev page shows.
	resp, err := http.Get(srv.APIURL + "/dev/events")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), outbox.TenantFailed) || !strings.Contains(string(page), "waiting") {
		t.Errorf("/dev/events does not show the waiting events:\n%s", page)
	}

	got := bus.Drain(t, store.New(srv.Stack.PoolAs(catalog.PublisherUser)))
	bySubject := map[string][]outbox.Event{}
	for _, r := range got {
		bustest.Valid(t, r)
		d := strings.ToLower(string(r.Detail))
		for _, pii := range []string{"@", "evelina", "eventful", "danae", "doomsday"} {
			if strings.Contains(d, pii) {
				t.Errorf("event %s (%s) holds %q: %s", r.Event.ID, r.Event.Type, pii, r.Detail)
			}
		}
		bySubject[r.Event.Subject] = append(bySubject[r.Event.Subject], r.Event)
	}
	reqID := func(h http.Header) string { return h.Get("X-Request-Id") }
	type ev struct{ typ, request string }
	want := map[string][]ev{
		// The steps' transitions carry the request that started their execution.
		id: {{outbox.TenantReserved, reqID(createHdr)}, {outbox.TenantProvisioningStarted, reqID(createHdr)}, {outbox.TenantActivated, reqID(createHdr)},
			{outbox.AdminActivated, reqID(activateHdr)}, {outbox.TenantArchived, reqID(archiveHdr)}},
		doomedID: {{outbox.TenantReserved, reqID(doomedHdr)}, {outbox.TenantProvisioningStarted, reqID(doomedHdr)}, {outbox.TenantFailed, reqID(doomedHdr)},
			{outbox.TenantRetried, reqID(retryHdr)}, {outbox.TenantProvisioningStarted, reqID(retryHdr)}, {outbox.TenantActivated, reqID(retryHdr)}},
		run["runId"].(string): {{outbox.UpgradeRunFinished, ""}}, // ended by its execution's last step
	}
	for subject, w := range want {
		evs := bySubject[subject]
		slices.SortFunc(evs, func(a, b outbox.Event) int { return a.Time.Compare(b.Time) })
		var g []ev
		for _, e := range evs {
			g = append(g, ev{e.Type, e.RequestID})
		}
		if !slices.Equal(g, w) {
			t.Errorf("events of %s:\n  %v\nwant\n  %v", subject, g, w)
		}
	}
	failed := bustest.EventsOf(bySubject[doomedID], outbox.TenantFailed)
	if len(failed) != 1 || !strings.Contains(string(failed[0].Data), `"errorType": "InvariantError"`) {
		t.Errorf("the failure's event: %+v, want errorType InvariantError", failed)
	}
	if again := bus.Drain(t, st); len(again) != 0 {
		t.Errorf("a second run sent %d events again", len(again))
	}
}
