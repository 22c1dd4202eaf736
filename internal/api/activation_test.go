package api_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/password"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
)

const goodPassword = "a long passphrase, easy to remember"

// activeWelcomed is an ACTIVE tenant whose welcome e-mail went out, as the pipeline's last
// step sends it.
func (e *env) activeWelcomed(t *testing.T, name string) uuid.UUID {
	t.Helper()
	id := e.active(t, name)
	if _, err := e.steps.SendWelcomeEmail(e.ctx, pipelineInput(id)); err != nil {
		t.Fatal(err)
	}
	return id
}

// linkToken follows the newest activation link e-mailed for the tenant: what the admin
// clicks, https://…/activate#tenant=<id>&token=<token>.
func (e *env) linkToken(t *testing.T, id uuid.UUID) string {
	t.Helper()
	link := regexp.MustCompile(`/activate#tenant=` + id.String() + `&amp;token=([A-Za-z0-9_-]{43})`)
	var token string
	for _, m := range awstest.SentTo(t, adminEmail) {
		if l := link.FindStringSubmatch(m.Body); l != nil {
			token = l[1] // SentTo lists the oldest first
		}
	}
	if token == "" {
		t.Fatalf("no activation link for tenant %s was e-mailed", id)
	}
	return token
}

func activationRequest(id, token, password string) events.APIGatewayV2HTTPRequest {
	b, _ := json.Marshal(map[string]string{"tenantId": id, "token": token, "password": password})
	req := withBody(request("POST", "/activation"), "application/json", string(b))
	req.RequestContext.Authorizer = nil // the public route: no JWT, as API Gateway passes it
	return req
}

// account is the admin's row in the tenant's users table.
type account struct {
	Status, PasswordHash string
	TokenHash            []byte
	ActivatedAt          *time.Time
	PasswordChangedAt    *time.Time
}

func (e *env) account(t *testing.T, id uuid.UUID) account {
	t.Helper()
	tn := e.tenantRow(t, id.String())
	var a account
	err := e.pool.QueryRow(e.ctx, `SELECT status, password_hash, activation_token_hash, activated_at, password_changed_at FROM `+
		pgx.Identifier{tn.SchemaName}.Sanitize()+`.users`).Scan(&a.Status, &a.PasswordHash, &a.TokenHash, &a.ActivatedAt, &a.PasswordChangedAt)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func forgedToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// The welcome e-mail's link redeemed as the activation page posts it: the password is set
// (argon2id) and the account active, once. A second redeem, a forged, an expired or a
// replaced token, an unknown tenant: the same 400, with nothing changed.
func TestActivation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sameRefusal := func(t *testing.T, req events.APIGatewayV2HTTPRequest) {
		t.Helper()
		p := e.do(t, nil, req).problem(400, "invalid-activation")
		if !strings.Contains(p.Detail, "Ask your platform administrator for a new one") {
			t.Errorf("detail %q", p.Detail)
		}
	}

	t.Run("the link works once", func(t *testing.T) {
		t.Parallel()
		id := e.activeWelcomed(t, e.name("Activation Once"))
		token := e.linkToken(t, id)
		if before := e.account(t, id); before.Status != "PENDING_ACTIVATION" || !strings.HasPrefix(before.PasswordHash, tenantdb.UnusablePrefix) {
			t.Fatalf("before: %s, %.3s…", before.Status, before.PasswordHash)
		}
		var b map[string]string
		e.do(t, nil, activationRequest(id.String(), token, goodPassword)).status(200).decode(&b)
		after := e.account(t, id)
		if b["status"] != "activated" || after.Status != "ACTIVE" || after.TokenHash != nil || after.ActivatedAt == nil || after.PasswordChangedAt == nil ||
			!strings.HasPrefix(after.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") || !tenantdb.VerifyPassword(after.PasswordHash, goodPassword) {
			t.Fatalf("after: %+v, body %v", after, b)
		}
		sameRefusal(t, activationRequest(id.String(), token, "another passphrase entirely"))
		if again := e.account(t, id); again.PasswordHash != after.PasswordHash || again.Status != "ACTIVE" {
			t.Error("a second redeem changed the account")
		}
		// Activated: no new link for this admin.
		e.do(t, nil, request("POST", "/admin/tenants/"+id.String()+"/activation-email")).problem(409, "already-activated")
		for _, secret := range []string{token, goodPassword} {
			if strings.Contains(e.logs.String(), secret) {
				t.Error("the token or the password is in the log")
			}
		}
	})

	t.Run("forged, unknown and malformed", func(t *testing.T) {
		t.Parallel()
		id := e.activeWelcomed(t, e.name("Activation Forged"))
		before := e.account(t, id)
		sameRefusal(t, activationRequest(id.String(), forgedToken(), goodPassword))
		sameRefusal(t, activationRequest(uuid.NewString(), e.linkToken(t, id), goodPassword)) // another tenant's id
		sameRefusal(t, activationRequest(id.String(), "short", goodPassword))
		sameRefusal(t, activationRequest("not-a-uuid", e.linkToken(t, id), goodPassword))
		for _, body := range []string{`{"tenantId": "x"}`, `{"tenantId": "x", "token": "y", "password": "z", "extra": 1}`, `[]`, `{"tenantId": 1, "token": "y", "password": "z"}`} {
			req := withBody(request("POST", "/activation"), "application/json", body)
			req.RequestContext.Authorizer = nil
			e.do(t, nil, req).problem(400, "malformed-body")
		}
		if after := e.account(t, id); after.Status != before.Status || after.PasswordHash != before.PasswordHash || string(after.TokenHash) != string(before.TokenHash) {
			t.Error("a refused redeem changed the account")
		}
	})

	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		id := e.activeWelcomed(t, e.name("Activation Expired"))
		token := e.linkToken(t, id)
		tn := e.tenantRow(t, id.String())
		if _, err := e.pool.Exec(e.ctx, `UPDATE `+pgx.Identifier{tn.SchemaName}.Sanitize()+`.users SET activation_expires_at = now() - interval '1 second'`); err != nil {
			t.Fatal(err)
		}
		before := e.account(t, id)
		sameRefusal(t, activationRequest(id.String(), token, goodPassword))
		if after := e.account(t, id); after.Status != "PENDING_ACTIVATION" || after.PasswordHash != before.PasswordHash {
			t.Error("an expired token changed the account")
		}
	})

	t.Run("a resend voids the old link", func(t *testing.T) {
		t.Parallel()
		id := e.activeWelcomed(t, e.name("Activation Resent"))
		old := e.linkToken(t, id)
		var b map[string]any
		e.do(t, nil, request("POST", "/admin/tenants/"+id.String()+"/activation-email")).status(200).decode(&b)
		fresh := e.linkToken(t, id)
		if b["status"] != "sent" || fresh == old {
			t.Fatalf("resend: %v; token changed %v", b, fresh != old)
		}
		sameRefusal(t, activationRequest(id.String(), old, goodPassword))
		e.do(t, nil, activationRequest(id.String(), fresh, goodPassword)).status(200)
	})

	t.Run("a weak password keeps the link", func(t *testing.T) {
		t.Parallel()
		id := e.activeWelcomed(t, e.name("Activation Weak"))
		token := e.linkToken(t, id)
		for _, pw := range []string{"short", strings.Repeat(" ", 20), strings.Repeat("x", 129), adminEmail} {
			p := e.do(t, nil, activationRequest(id.String(), token, pw)).problem(400, "validation")
			if fields := p.fields(); len(fields) != 1 || fields[0] != "password" {
				t.Errorf("%.10q: fields %v", pw, fields)
			}
		}
		e.do(t, nil, activationRequest(id.String(), token, goodPassword)).status(200)
	})

	// NIST SP 800-63B: a common or breached password, a predictable one, or one made of the
	// tenant's or its admin's own words is a 400 that names why without repeating it, and
	// the link still works for a good passphrase.
	t.Run("common passwords and the tenant's own words", func(t *testing.T) {
		t.Parallel()
		id := e.activeWelcomed(t, e.name("Riverside Pediatrics"))
		token := e.linkToken(t, id)
		for _, c := range []struct {
			why, password string
			want          error
		}{
			{"on the breached list", "Password1234!", password.ErrCommon},
			{"a list entry in look-alikes", "P@ssw0rd2024!", password.ErrCommon},
			{"a repeat", "abcabcabcabc", password.ErrPredictable},
			{"the tenant's name", "Riverside Pediatrics rocks", password.ErrOrganisation},
			{"a word of the tenant's name", "pediatrics is my calling", password.ErrOrganisation},
			{"the admin's e-mail domain", "my clinic is the best one", password.ErrOrganisation},
			{"the admin's e-mail address", adminEmail, password.ErrPersonal},
			{"the e-mail's local part", "Quinn.zz9.Admin 2024", password.ErrPersonal},
			{"the admin's last name", "Medicinezz is my surname", password.ErrPersonal},
		} {
			r := e.do(t, nil, activationRequest(id.String(), token, c.password))
			p := r.problem(400, "validation")
			if len(p.Errors) != 1 || p.Errors[0].Field != "password" || p.Errors[0].Message != c.want.Error() {
				t.Errorf("%s: errors %+v, want password: %q", c.why, p.Errors, c.want)
			}
			if strings.Contains(r.Body, c.password) || strings.Contains(e.logs.String(), c.password) {
				t.Errorf("%s: the password is in the response or the log", c.why)
			}
		}
		if a := e.account(t, id); a.Status != "PENDING_ACTIVATION" || !strings.HasPrefix(a.PasswordHash, tenantdb.UnusablePrefix) {
			t.Fatalf("a refused password changed the account: %s", a.Status)
		}
		e.do(t, nil, activationRequest(id.String(), token, "violet kettle drums at noon")).status(200)
	})

	t.Run("resend needs an ACTIVE tenant", func(t *testing.T) {
		t.Parallel()
		id := e.provisioning(t, e.name("Activation Provisioning"))
		e.do(t, nil, request("POST", "/admin/tenants/"+id.String()+"/activation-email")).problem(409, "not-active")
		e.do(t, nil, request("POST", "/admin/tenants/"+uuid.NewString()+"/activation-email")).problem(404, "not-found")
	})
}

// The public route's per-client limit: a client may make pipeline.ActivationClientLimit
// attempts a window, whatever they carry; the next is a 429 with Retry-After, and changes
// nothing. Another client is not held back; addresses of one IPv6 /64 are one client.
func TestActivationIsLimitedPerClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.activeWelcomed(t, e.name("Activation Limited"))
	from := func(ip, token string) events.APIGatewayV2HTTPRequest {
		req := activationRequest(id.String(), token, goodPassword)
		req.RequestContext.HTTP.SourceIP = ip
		return req
	}
	// A window may turn during the loop and restart the count: then the loop goes on until
	// the limit is met within one window, which two windows' attempts always reach.
	client := fmt.Sprintf("203.0.113.%d", mrand.IntN(250))
	reachLimit := func() response {
		for i := 0; i < 2*pipeline.ActivationClientLimit+1; i++ {
			r := e.do(t, nil, from(client, forgedToken()))
			if r.StatusCode == 429 {
				return r
			}
			r.problem(400, "invalid-activation")
		}
		t.Fatalf("%d attempts from one client were never limited", 2*pipeline.ActivationClientLimit+1)
		return response{}
	}
	limited := reachLimit()
	// The attempts below must fall in the window that limited the client: when it is about
	// to turn, wait for the next one and reach the limit there.
	if s, err := strconv.Atoi(limited.Headers["Retry-After"]); err == nil && s < 10 {
		time.Sleep(time.Duration(s+1) * time.Second)
		limited = reachLimit()
	}
	limited.problem(429, "too-many-attempts")
	if s, err := strconv.Atoi(limited.Headers["Retry-After"]); err != nil || s < 1 || s > int(pipeline.ActivationClientWindow/time.Second) {
		t.Errorf("Retry-After = %q, want 1 to %v seconds", limited.Headers["Retry-After"], pipeline.ActivationClientWindow)
	}
	// Held back, even with the real link: the account is untouched.
	e.do(t, nil, from(client, e.linkToken(t, id))).problem(429, "too-many-attempts")
	if a := e.account(t, id); a.Status != "PENDING_ACTIVATION" {
		t.Errorf("a limited attempt activated the account: %s", a.Status)
	}
	// Another client is not, and redeems the link.
	e.do(t, nil, from("2001:db8:1::1", e.linkToken(t, id))).status(200)

	// One IPv6 /64 is one client: addresses in it share the count.
	for i := 0; i < 2*pipeline.ActivationClientLimit+1; i++ {
		if r := e.do(t, nil, from(fmt.Sprintf("2001:db8:2::%x", i+1), forgedToken())); r.StatusCode == 429 {
			return
		}
	}
	t.Errorf("the addresses of one /64 were never limited")
}

// atVersion takes the tenant's schema back to version v, and runs also, when given, in
// the same transaction.
func (e *env) atVersion(t *testing.T, id uuid.UUID, v int32, also func(pgx.Tx) error) tenantdb.Names {
	t.Helper()
	row, err := store.New(e.pool).Get(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	n, err := tenantdb.For(row)
	if err != nil {
		t.Fatal(err)
	}
	if err := pgx.BeginFunc(e.ctx, e.pool, func(tx pgx.Tx) error {
		if _, err := tenantdb.Downgrade(e.ctx, tx, n, v); err != nil || also == nil {
			return err
		}
		return also(tx)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// Every tenant schema version still in the fleet is served: a tenant left at each version
// from tenantdb.OldestSupportedVersion up (as tenants provisioned before a release are,
// until an upgrade run reaches them) is read, re-sent its link, redeems it with 200 and is
// archived; a failed one whose schema is at that version is retried to ACTIVE. Before,
// redeeming at a version without users.password_changed_at was a 500.
func TestRoutesServeEverySupportedSchemaVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for v := tenantdb.OldestSupportedVersion; v <= tenantdb.LatestVersion(); v++ {
		t.Run(fmt.Sprintf("version %d", v), func(t *testing.T) {
			t.Parallel()
			id := e.activeWelcomed(t, e.name(fmt.Sprintf("Version %d", v)))
			n := e.atVersion(t, id, v, nil)
			if got, err := tenantdb.Version(e.ctx, e.pool, n); err != nil || got != v {
				t.Fatalf("schema at version %d (%v), want %d", got, err, v)
			}
			e.do(t, nil, request("GET", "/admin/tenants/"+id.String())).status(200)
			e.do(t, nil, request("POST", "/admin/tenants/"+id.String()+"/activation-email")).status(200)
			e.do(t, nil, activationRequest(id.String(), e.linkToken(t, id), goodPassword)).status(200)
			var status string
			if err := e.pool.QueryRow(e.ctx, `SELECT status FROM `+pgx.Identifier{n.Schema}.Sanitize()+`.users`).Scan(&status); err != nil || status != "ACTIVE" {
				t.Errorf("the admin is %s (%v) after redeeming, want ACTIVE", status, err)
			}
			e.do(t, nil, request("DELETE", "/admin/tenants/"+id.String())).status(200)
		})
		t.Run(fmt.Sprintf("retry at version %d", v), func(t *testing.T) {
			t.Parallel()
			// An earlier release's attempt that migrated the schema to v and failed, its
			// schema left behind (a rollback that could not drop it): retried, the new
			// execution takes the schema from v to the newest and the tenant ends ACTIVE.
			id := e.provisioning(t, e.name(fmt.Sprintf("Retry Version %d", v)))
			e.run(t, id, step(e.steps.CreateSchema), step(e.steps.RunMigrations))
			n := e.atVersion(t, id, v, func(tx pgx.Tx) error {
				_, err := tx.Exec(e.ctx, `UPDATE tenants SET status = 'FAILED', schema_version = NULL, completed_at = now() WHERE id = $1`, id)
				return err
			})
			var b acceptedBody
			e.do(t, nil, request("POST", "/admin/tenants/"+id.String()+"/retry")).status(202).decode(&b)
			in := pipeline.TenantInput{TenantID: id.String(), ExecutionArn: b.ExecutionArn}
			if _, err := e.steps.CreateTenantRecord(e.ctx, pipeline.CreateTenantRecordInput{TenantID: in.TenantID, ExecutionArn: in.ExecutionArn}); err != nil {
				t.Fatal(err)
			}
			for _, st := range []func(context.Context, pipeline.TenantInput) error{step(e.steps.CreateSchema), step(e.steps.RunMigrations),
				step(e.steps.SeedRolesAndUser), func(ctx context.Context, in pipeline.TenantInput) error {
					_, err := e.steps.StoreContractAddress(ctx, pipeline.StoreContractAddressInput{TenantID: in.TenantID, ExecutionArn: in.ExecutionArn, ContractID: testContractID})
					return err
				}, step(e.steps.ActivateTenant)} {
				if err := st(e.ctx, in); err != nil {
					t.Fatalf("the retry's execution at version %d: %v", v, err)
				}
			}
			after, err := store.New(e.pool).Get(e.ctx, id)
			if got, verr := tenantdb.Version(e.ctx, e.pool, n); err != nil || verr != nil || after.Status != "ACTIVE" || got != tenantdb.LatestVersion() {
				t.Errorf("after the retry: %s at version %d (%v, %v), want ACTIVE at %d", after.Status, got, err, verr, tenantdb.LatestVersion())
			}
		})
	}
}
