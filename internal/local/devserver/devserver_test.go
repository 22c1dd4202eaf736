package devserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/database"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/local/asl"
	"github.com/healthstack/tenant-provisioning/internal/local/seed"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
	"github.com/healthstack/tenant-provisioning/internal/testkit/testdb"
)

// failSwitch makes ActivateTenant fail permanently once switched on.
type failSwitch struct {
	lambda.Handler
	on *atomic.Bool
}

func (f failSwitch) Invoke(ctx context.Context, p []byte) ([]byte, error) {
	if f.on.Load() {
		return nil, &fault.InvariantError{Op: "ACTIVATE_TENANT", Msg: "injected permanent fault"}
	}
	return f.Handler.Invoke(ctx, p)
}

type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path, body string) (int, http.Header, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, resp.Header, out
}

func (c client) waitFor(path, want string) map[string]any {
	c.t.Helper()
	return c.poll(path, "overallStatus "+want, func(body map[string]any) bool { return body["overallStatus"] == want })
}

// waitForExecution polls the status route until the tenant's execution has status want.
func (c client) waitForExecution(path, want string) {
	c.t.Helper()
	c.poll(path, "execution "+want, func(body map[string]any) bool {
		ex, _ := body["execution"].(map[string]any)
		return ex["status"] == want
	})
}

// poll GETs path until done says its body is what the test waits for, at most a minute.
func (c client) poll(path, what string, done func(map[string]any) bool) map[string]any {
	c.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, _, body := c.do("GET", path, "")
		if done(body) {
			return body
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s never reached %s: %v", path, what, body)
		}
	}
}

// startLocal starts the local stack on a fresh database, every server on a free port,
// e-mail to the outbox, the engine on the fast clock; edit changes the config first.
func startLocal(t *testing.T, edit func(*Config)) *Server {
	t.Helper()
	_, url := testdb.NewWithURL(t)
	cfg := Config{
		DatabaseURL: url, APIAddr: "127.0.0.1:0", InvokeAddr: "127.0.0.1:0", StellarAddr: "127.0.0.1:0", OutboxAddr: "127.0.0.1:0",
		Outbox: true, OutboxDir: t.TempDir(), Log: slog.New(slog.DiscardHandler), Clock: asl.NewFastClock(),
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// The local stack driven over HTTP the way an admin would: create, follow, read, list,
// archive; a second tenant that fails ends FAILED with its error in the status.
func TestLocalStackOverHTTP(t *testing.T) {
	t.Parallel()
	for _, conn := range connections {
		t.Run(conn.name, func(t *testing.T) {
			t.Parallel()
			fail := &atomic.Bool{}
			srv := startLocal(t, func(c *Config) {
				conn.configure(c)
				c.Wrap = func(c map[string]lambda.Handler) map[string]lambda.Handler {
					c[catalog.ActivateTenant.LogicalID] = failSwitch{Handler: c[catalog.ActivateTenant.LogicalID], on: fail}
					return c
				}
			})
			driveOverHTTP(t, srv, fail)
			conn.check(t, srv)
		})
	}
}

// connections are the two ways the functions reach the database: directly, and through
// RDS Proxy (DB_PROXY=true, which selects database.ProxyQueryExecMode). Through the proxy,
// everything a route or a step did must leave its session without state that would pin
// the client's session to one database connection.
var connections = []connection{{"direct", ""}, {"through RDS Proxy", database.ProxyQueryExecMode}}

type connection struct{ name, mode string }

func (c connection) configure(cfg *Config) {
	if c.mode == "" {
		return
	}
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		panic(err)
	}
	q := u.Query()
	q.Set("default_query_exec_mode", c.mode)
	u.RawQuery = q.Encode()
	cfg.DatabaseURL = u.String()
}

func (c connection) check(t *testing.T, srv *Server) {
	t.Helper()
	if c.mode == "" {
		return
	}
	if state := testdb.SessionState(context.Background(), t, srv.Stack.Pool); len(state) > 0 {
		t.Errorf("sessions left with state that pins them behind RDS Proxy: %v", state)
	}
}

// driveOverHTTP creates, follows, reads, lists and archives a tenant, then fails a
// second with fail and retries it.
func driveOverHTTP(t *testing.T, srv *Server, fail *atomic.Bool) {
	admin := client{t: t, base: srv.APIURL, token: srv.AdminToken}

	if code, _, _ := (client{t: t, base: srv.APIURL}).do("GET", "/admin/tenants", ""); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", code)
	}
	viewer := client{t: t, base: srv.APIURL, token: srv.ViewerToken}
	if code, _, _ := viewer.do("GET", "/admin/tenants", ""); code != http.StatusOK {
		t.Errorf("the viewer token reading: %d, want 200", code)
	}
	if code, hdr, _ := viewer.do("POST", "/admin/tenants", `{"name":"Viewer Clinic","adminEmail":"v@viewer.example","adminFirstName":"V","adminLastName":"W"}`); code != http.StatusForbidden ||
		!strings.Contains(hdr.Get("WWW-Authenticate"), `scope="`+AdminScope+`"`) {
		t.Errorf("the viewer token writing: %d %q, want 403 naming the admin scope", code, hdr.Get("WWW-Authenticate"))
	}

	code, hdr, created := admin.do("POST", "/admin/tenants", `{"name":"Over HTTP Clinic","adminEmail":"ada@overhttp.example","adminFirstName":"Ada","adminLastName":"Lovelace"}`)
	if code != http.StatusAccepted || hdr.Get("Location") == "" || created["status"] != "queued" {
		t.Fatalf("POST = %d %v %v", code, hdr, created)
	}
	id, _ := created["tenantId"].(string)
	createRequest := hdr.Get("X-Request-Id")
	admin.waitFor(created["statusUrl"].(string), "ACTIVE")
	admin.waitForExecution(created["statusUrl"].(string), "SUCCEEDED") // the welcome follows activation
	// Read once the execution has ended: at ACTIVE the welcome e-mail's row may not be there yet.
	_, _, status := admin.do("GET", created["statusUrl"].(string), "")
	if logs, _ := status["logs"].([]any); len(logs) < 8 {
		t.Errorf("status logs: %v", status["logs"])
	}
	_, _, detail := admin.do("GET", "/admin/tenants/"+id, "")
	if c, _ := detail["sorobanContractId"].(string); !strings.HasPrefix(c, "C") {
		t.Errorf("detail = %v", detail)
	}
	_, _, list := admin.do("GET", "/admin/tenants", "")
	if !strings.Contains(fmt.Sprint(list["tenants"]), id) {
		t.Errorf("list lacks the tenant: %v", list)
	}
	if code, _, body := admin.do("DELETE", "/admin/tenants/"+id, ""); code != http.StatusOK || body["status"] != "archived" {
		t.Errorf("DELETE = %d %v", code, body)
	}
	if len(srv.Outbox.SentTo("ada@overhttp.example")) != 1 {
		t.Error("no welcome e-mail in the outbox")
	}

	fail.Store(true)
	code, _, doomed := admin.do("POST", "/admin/tenants", `{"name":"Doomed Over HTTP","adminEmail":"bob@doomed.example","adminFirstName":"Bob","adminLastName":"Builder"}`)
	if code != http.StatusAccepted {
		t.Fatalf("second POST = %d %v", code, doomed)
	}
	failed := admin.waitFor(doomed["statusUrl"].(string), "FAILED")
	if !strings.Contains(fmt.Sprint(failed), "InvariantError") {
		t.Errorf("the failure is not visible in the status: %v", failed)
	}

	// Once the cause is fixed, an admin retries the FAILED tenant: a new execution takes it
	// to ACTIVE, and its log keeps the first execution's attempts beside the retry's.
	fail.Store(false)
	doomedID, _ := doomed["tenantId"].(string)
	code, _, retried := admin.do("POST", "/admin/tenants/"+doomedID+"/retry", "")
	if code != http.StatusAccepted || !strings.HasSuffix(fmt.Sprint(retried["executionArn"]), ":"+doomedID+"-r1") {
		t.Fatalf("retry = %d %v", code, retried)
	}
	active := admin.waitFor(retried["statusUrl"].(string), "ACTIVE")
	executions := map[string]bool{}
	for _, l := range active["logs"].([]any) {
		executions[fmt.Sprint(l.(map[string]any)["executionArn"])] = true
	}
	if len(executions) != 2 || !executions[fmt.Sprint(retried["executionArn"])] {
		t.Errorf("the log after the retry holds the attempts of %v, want both executions", executions)
	}
	if code, _, body := admin.do("POST", "/admin/tenants/"+doomedID+"/retry", ""); code != http.StatusConflict {
		t.Errorf("retry of an ACTIVE tenant = %d %v, want 409", code, body)
	}
	admin.waitForExecution(retried["statusUrl"].(string), "SUCCEEDED") // the welcome follows activation
	if n := len(srv.Outbox.SentTo("bob@doomed.example")); n != 2 {
		t.Errorf("%d e-mails to the retried tenant's admin, want the failure notice and then the welcome", n)
	}

	// One id to follow: the create request's id is on its own record, on the reservation
	// and on every transition its execution's steps made (the execution's input carries it).
	var requests []string
	rows, err := srv.Stack.Pool.Query(context.Background(), `SELECT DISTINCT coalesce(request_id, '') FROM audit_records
		WHERE tenant_id = $1 AND action IN ('tenant.create', 'tenant.reserved', 'tenant.provisioning', 'tenant.activated')`, id)
	if err == nil {
		requests, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || createRequest == "" || !slices.Equal(requests, []string{createRequest}) {
		t.Errorf("the onboarding's records name the requests %q (%v), want the create request's %q alone", requests, err, createRequest)
	}

	// No record holds an admin's e-mail address or name, whatever its column.
	var personal int
	if err := srv.Stack.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_records a
		WHERE lower(a::text) LIKE ANY (ARRAY['%ada@overhttp.example%', '%lovelace%', '%bob@doomed.example%', '%builder%'])`).Scan(&personal); err != nil || personal != 0 {
		t.Errorf("%d audit records hold an admin's e-mail or name (%v)", personal, err)
	}

	// The audit trail holds one record per transition, each with its actor (the admin who
	// asked, with the request, or the function that made it), in order; and one per admin
	// request, with its outcome, the refused retry of an ACTIVE tenant too. (A request's
	// record is written once its outcome is known, so it may follow the transitions its
	// execution made meanwhile: the two are compared apart.)
	adminActor := audit.Admin(LocalIssuer, "local-admin")
	for tenantID, want := range map[string][2][]string{
		id: {{"tenant.reserved " + adminActor, "tenant.provisioning system:CreateTenantRecordFunction",
			"tenant.activated system:ActivateTenantFunction", "tenant.archived " + adminActor},
			{"tenant.create accepted " + adminActor, "tenant.archive accepted " + adminActor}},
		doomedID: {{"tenant.reserved " + adminActor, "tenant.provisioning system:CreateTenantRecordFunction",
			"tenant.failed system:RollbackFunction", "tenant.retried " + adminActor,
			"tenant.provisioning system:CreateTenantRecordFunction", "tenant.activated system:ActivateTenantFunction"},
			{"tenant.create accepted " + adminActor, "tenant.retry accepted " + adminActor, "tenant.retry refused " + adminActor}},
	} {
		rows, err := srv.Stack.Pool.Query(context.Background(), `SELECT action, outcome, actor,
			(actor LIKE 'admin:%') = (source_ip IS NOT NULL) AND request_id IS NOT NULL
			FROM audit_records WHERE tenant_id = $1 ORDER BY id`, tenantID)
		if err != nil {
			t.Fatal(err)
		}
		var transitions, requests []string
		var action, outcome, actor string
		var requestKnown bool
		if _, err := pgx.ForEachRow(rows, []any{&action, &outcome, &actor, &requestKnown}, func() error {
			if strings.HasSuffix(action, "ed") || action == "tenant.provisioning" {
				transitions = append(transitions, action+" "+actor)
			} else {
				requests = append(requests, action+" "+outcome+" "+actor)
			}
			if !requestKnown {
				t.Errorf("%s: %s by %s lacks its request, or a function's record has a source address", tenantID, action, actor)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for i, got := range [][]string{transitions, requests} {
			if !slices.Equal(got, want[i]) {
				t.Errorf("the audit trail of %s:\n  %s\nwant\n  %s", tenantID, strings.Join(got, "\n  "), strings.Join(want[i], "\n  "))
			}
		}
	}

	// The execution can be followed state by state.
	resp, err := http.Get(srv.APIURL + "/executions/" + id)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"SUCCEEDED", "DeploySorobanContract", "SendWelcomeEmail", "History"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("execution page lacks %q", want)
		}
	}
}

// Fifty admins create the same tenant at once: exactly one wins.
func TestConcurrentCreatesOfOneName(t *testing.T) {
	t.Parallel()
	srv := startLocal(t, func(c *Config) { c.OutboxDir = "" }) // the outbox in memory
	admin := client{t: t, base: srv.APIURL, token: srv.AdminToken}
	const n = 50
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes[i], _, _ = admin.do("POST", "/admin/tenants", `{"name":"Race Clinic","adminEmail":"r@race.example","adminFirstName":"R","adminLastName":"C"}`)
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[http.StatusAccepted] != 1 || count[http.StatusConflict] != n-1 {
		t.Errorf("status codes: %v", count)
	}
}

// make dev runs the reconciler on a timer, as the schedule does in AWS: a reservation whose
// execution was never started (the API died in between) ends FAILED by itself.
func TestReconcilerRunsOnATimer(t *testing.T) {
	t.Parallel()
	srv := startLocal(t, func(c *Config) { c.ReconcileEvery, c.ReconcileStaleAfter = 20*time.Millisecond, time.Millisecond })
	reg, err := tenant.Registration{Name: "Orphan Clinic", AdminEmail: "o@orphan.example", AdminFirstName: "O", AdminLastName: "P"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(srv.Stack.Pool)
	tn, err := st.Reserve(context.Background(), reg) // reserved, and no execution started
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := st.Get(context.Background(), tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == tenant.StatusFailed {
			if got.ProvisioningError != "provisioning was never started" {
				t.Errorf("error %q", got.ProvisioningError)
			}
			var actor string
			if err := srv.Stack.Pool.QueryRow(context.Background(), `SELECT actor FROM audit_records
				WHERE tenant_id = $1 AND action = 'tenant.failed'`, tn.ID).Scan(&actor); err != nil || actor != "system:ReconcileFunction" {
				t.Errorf("the failure's audit record: actor %q, %v; want the reconciler's", actor, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orphaned reservation is still %s", got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The welcome e-mail's link works locally: make dev serves the /activate page it opens
// (which reads the fragment and posts it) and the public /activation route it posts to.
func TestActivationLinkWorksLocally(t *testing.T) {
	t.Parallel()
	srv := startLocal(t, nil)
	admin := client{t: t, base: srv.APIURL, token: srv.AdminToken}
	_, _, created := admin.do("POST", "/admin/tenants", `{"name":"Link Clinic","adminEmail":"lin@link.example","adminFirstName":"Lin","adminLastName":"K"}`)
	admin.waitForExecution(created["statusUrl"].(string), "SUCCEEDED")
	mail := srv.Outbox.SentTo("lin@link.example")
	if len(mail) != 1 {
		t.Fatalf("%d e-mails, want the welcome", len(mail))
	}
	link := regexp.MustCompile(`(https?://[^/\s]+)(/activate)#tenant=([0-9a-f-]{36})&token=([A-Za-z0-9_-]{43})`).FindStringSubmatch(mail[0].Text)
	if link == nil {
		t.Fatalf("no activation link in:\n%s", mail[0].Text)
	}
	// The page the link opens, and its script.
	for path, want := range map[string]string{link[2]: "/activate.js", "/activate.js": "/activation"} {
		resp, err := http.Get(srv.APIURL + path)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), want) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: %d, CSP %q", path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	}
	// What the page posts: no bearer token, the fragment's values and the new password.
	public := client{t: t, base: srv.APIURL}
	body := `{"tenantId":"` + link[3] + `","token":"` + link[4] + `","password":"a fine local passphrase"}`
	if code, _, b := public.do("POST", "/activation", body); code != http.StatusOK || b["status"] != "activated" {
		t.Fatalf("POST /activation = %d %v", code, b)
	}
	if code, _, b := public.do("POST", "/activation", body); code != http.StatusBadRequest {
		t.Errorf("second POST /activation = %d %v, want 400", code, b)
	}
}

// Deployed, the activation page is the product's, on APP_BASE_URL's origin, and it posts to
// the API on another: the local server answers preflights as the HTTP API's
// CorsConfiguration does. APP_BASE_URL's origin may POST JSON to /activation; another
// origin, a request carrying a bearer token or another method gets no CORS headers, so the
// browser keeps the answer from the page.
func TestActivationCORS(t *testing.T) {
	t.Parallel()
	srv := startLocal(t, nil)
	if srv.AppOrigin != "http://localhost:3000" && os.Getenv("APP_BASE_URL") == "" {
		t.Fatalf("AppOrigin %q, want APP_BASE_URL's default origin", srv.AppOrigin)
	}
	send := func(method, path, origin string, header map[string]string) *http.Response {
		req, err := http.NewRequest(method, srv.APIURL+path, strings.NewReader(`{"tenantId":"x","token":"y","password":"z"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, c := range []struct {
		name, origin, path, method, headers string
		allowed                             bool
	}{
		{"the activation page", srv.AppOrigin, "/activation", "POST", "content-type", true},
		{"another origin", "https://evil.example", "/activation", "POST", "content-type", false},
		{"the same host over https", strings.Replace(srv.AppOrigin, "http://", "https://", 1), "/activation", "POST", "content-type", false},
		{"a bearer token", srv.AppOrigin, "/admin/tenants", "POST", "authorization,content-type", false},
		{"another method", srv.AppOrigin, "/admin/tenants/x", "DELETE", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{"Access-Control-Request-Method": c.method}
			if c.headers != "" {
				h["Access-Control-Request-Headers"] = c.headers
			}
			resp := send("OPTIONS", c.path, c.origin, h)
			got := resp.Header.Get("Access-Control-Allow-Origin")
			if resp.StatusCode != http.StatusNoContent || (got == c.origin) != c.allowed || (!c.allowed && got != "") {
				t.Fatalf("preflight from %s: %d, Access-Control-Allow-Origin %q; allowed %v", c.origin, resp.StatusCode, got, c.allowed)
			}
			if c.allowed && (resp.Header.Get("Access-Control-Allow-Methods") != "POST" || resp.Header.Get("Access-Control-Allow-Credentials") != "" ||
				resp.Header.Get("Access-Control-Max-Age") != strconv.Itoa(CORSMaxAge)) {
				t.Errorf("preflight answer %v", resp.Header)
			}
		})
	}
	// The POST itself: the page's origin may read the answer (here a 400), another may not.
	for origin, want := range map[string]string{srv.AppOrigin: srv.AppOrigin, "https://evil.example": ""} {
		if resp := send("POST", "/activation", origin, nil); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Access-Control-Allow-Origin") != want {
			t.Errorf("POST from %s: %d, Access-Control-Allow-Origin %q, want %q", origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), want)
		}
	}
}

// An upgrade run started over HTTP, as an admin would, runs through the upgrade state
// machine on the local stack; the run's route follows it, and the executions page shows
// the fan-out with its child executions.
func TestUpgradeOverHTTP(t *testing.T) {
	t.Parallel()
	for _, conn := range connections {
		t.Run(conn.name, func(t *testing.T) {
			t.Parallel()
			srv := startLocal(t, conn.configure)
			upgradeOverHTTP(t, srv)
			conn.check(t, srv)
		})
	}
}

// upgradeOverHTTP upgrades 30 tenants a migration behind and reads the run's page.
func upgradeOverHTTP(t *testing.T, srv *Server) {
	ctx := context.Background()
	if _, err := seed.Behind(ctx, srv.Stack.Pool, "Upgrade Over HTTP Clinic", 30, tenantdb.LatestVersion()-1, 2); err != nil {
		t.Fatal(err)
	}
	admin := client{t: t, base: srv.APIURL, token: srv.AdminToken}
	code, hdr, started := admin.do("POST", "/admin/upgrades", "")
	if code != http.StatusAccepted || hdr.Get("Location") == "" {
		t.Fatalf("POST /admin/upgrades = %d %v %v", code, hdr, started)
	}
	run := admin.poll(hdr.Get("Location"), "SUCCEEDED", func(b map[string]any) bool { return b["status"] == "SUCCEEDED" })
	if run["upgraded"] != float64(30) || run["failed"] != float64(0) {
		t.Errorf("run %v", run)
	}
	if code, _, _ := admin.do("POST", "/admin/upgrades", `{"statuses":["PENDING"]}`); code != http.StatusBadRequest {
		t.Errorf("a run over PENDING tenants: %d, want 400", code)
	}
	resp, err := http.Get(srv.APIURL + "/executions/" + started["runId"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	// 30 tenants in batches of 25: one Map Run, two child executions.
	child := func(items int) string {
		return fmt.Sprintf(`<td>%d</td><td><span class="st SUCCEEDED">SUCCEEDED</span>`, items)
	}
	if !strings.Contains(string(page), "Map run: UpgradeTenants") || strings.Count(string(page), child(25)) != 1 ||
		strings.Count(string(page), child(5)) != 1 {
		t.Errorf("the execution page does not show the fan-out's two child executions:\n%s", page)
	}
}

// make dev shows the audit trail: /audit lists the records, which the sealer (on its timer,
// against a signing key and bucket in the emulator) links and signs, and the newest
// digests' verification; GET /admin/audit/verification answers the same.
func TestTheAuditTrailIsShownAndSignedLocally(t *testing.T) {
	t.Parallel()
	trail := awstest.NewAuditChain(t)
	srv := startLocal(t, func(c *Config) { c.Audit, c.SealEvery = &trail, 20*time.Millisecond })
	admin := client{t: t, base: srv.APIURL, token: srv.AdminToken}
	_, _, created := admin.do("POST", "/admin/tenants", `{"name":"Shown Clinic","adminEmail":"s@shown.example","adminFirstName":"S","adminLastName":"Hown"}`)
	admin.waitForExecution(created["statusUrl"].(string), "SUCCEEDED")
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, rep := admin.do("GET", "/admin/audit/verification", "")
		if code != http.StatusOK || rep["verified"] != true {
			t.Fatalf("verification: %d %v", code, rep)
		}
		if digests, _ := rep["digests"].(float64); digests > 0 && rep["unsignedLinks"] == float64(0) && rep["headSeq"].(float64) >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the trail is not signed to its head: %v", rep)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get(srv.APIURL + "/audit")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"tenant.reserved", "tenant.activated", "system:ActivateTenantFunction", ">verified<"} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), want) {
			t.Errorf("/audit (%d) lacks %q", resp.StatusCode, want)
		}
	}
	if strings.Contains(string(page), "s@shown.example") {
		t.Error("/audit shows an admin's e-mail address")
	}
}
