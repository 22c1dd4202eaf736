package pipeline

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
)

// emailEnv is env with the e-mail parts wired to SES in the emulator, through the real
// sesv2 client and our sender.
type emailEnv struct {
	*env
	ops string
}

// newEmailEnv verifies a fresh sender identity; verified=false leaves the sender
// unverified, so SES rejects every message.
func newEmailEnv(t *testing.T, verified bool) *emailEnv {
	t.Helper()
	e := newEnv(t)
	ses := sesv2.NewFromConfig(awstest.Config(t))
	from := awstest.UniqueName("noreply") + "@provisioning.example"
	if verified {
		if _, err := ses.CreateEmailIdentity(e.ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
			t.Fatal(err)
		}
	}
	ops := awstest.UniqueName("ops") + "@provisioning.example"
	e.steps = New(e.stepPool, e.steps.log, WithEmail(email.NewSender(ses, from, ""), config.Email{
		AppBaseURL:        "https://app.health.example",
		TenantURLTemplate: "https://{slug}.health.example",
		OpsAddress:        ops,
		ActivationTTL:     72 * time.Hour,
	}))
	return &emailEnv{env: e, ops: ops}
}

// reserveFor reserves a tenant whose admin has a unique address, so the e-mails sent to
// it can be told apart from other tests' in the shared emulator.
func (e *emailEnv) reserveFor(name, firstName string) (tenant.Tenant, string) {
	e.t.Helper()
	addr := awstest.UniqueName("admin") + "@clinic.example"
	reg, err := tenant.Registration{Name: name, AdminEmail: addr, AdminFirstName: firstName, AdminLastName: "Medicinezz"}.Normalize()
	if err != nil {
		e.t.Fatal(err)
	}
	tn, err := e.store.Reserve(e.ctx, reg)
	if err != nil {
		e.t.Fatal(err)
	}
	return tn, addr
}

var tokenInLink = regexp.MustCompile(`https://app\.health\.example/activate#tenant=([0-9a-f-]{36})&amp;token=([A-Za-z0-9_-]{43})`)

func (e *emailEnv) storedTokenHash(tn tenant.Tenant) []byte {
	e.t.Helper()
	var hash []byte
	var expires *time.Time
	got, _ := e.store.Get(e.ctx, tn.ID)
	err := e.pool.QueryRow(e.ctx, `SELECT activation_token_hash, activation_expires_at FROM `+
		pgx.Identifier{got.SchemaName}.Sanitize()+`.users`).Scan(&hash, &expires)
	if err != nil {
		e.t.Fatal(err)
	}
	return hash
}

func TestSendWelcomeEmail(t *testing.T) {
	t.Parallel()
	e := newEmailEnv(t, true)
	tn, addr := e.reserveFor("Welcome Clinic", "Quinnzz")
	e.runSteps(tn.ID, len(dbSteps)) // the welcome e-mail follows activation
	before := time.Now()
	out, err := e.steps.SendWelcomeEmail(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())})
	if err != nil {
		t.Fatal(err)
	}
	if out.MessageID == "" || out.ActivationExpiresAt.Before(before.Add(72*time.Hour-time.Minute)) || out.ActivationExpiresAt.After(time.Now().Add(72*time.Hour)) {
		t.Errorf("output = %+v", out)
	}
	sent := awstest.SentTo(t, addr)
	if len(sent) != 1 {
		t.Fatalf("%d messages to the admin, want 1", len(sent))
	}
	m := sent[0]
	if m.ID != out.MessageID || !strings.Contains(m.Subject, "Welcome Clinic") || !strings.Contains(m.Body, "Quinnzz") ||
		!strings.Contains(m.Body, "https://welcome-clinic.health.example") {
		t.Errorf("message = %+v", m)
	}
	link := tokenInLink.FindStringSubmatch(m.Body)
	if link == nil || link[1] != tn.ID.String() {
		t.Fatalf("no activation link for the tenant in:\n%s", m.Body)
	}
	token := link[2]
	if got := e.storedTokenHash(tn); string(got) != string(tenantdb.HashActivationToken(token)) {
		t.Error("the stored hash is not the hash of the e-mailed token")
	}

	// Everything but the e-mail and the stored hash must be free of the token.
	got, _ := e.store.Get(e.ctx, tn.ID)
	var everywhere strings.Builder
	b, _ := json.Marshal(out)
	everywhere.Write(b)
	everywhere.WriteString(e.logs.String())
	for _, l := range e.logRows(tn.ID) {
		everywhere.Write(l.Result)
		everywhere.WriteString(l.Error)
	}
	var audit string
	if err := e.pool.QueryRow(e.ctx, `SELECT string_agg(details::text || action, ' ') FROM `+
		pgx.Identifier{got.SchemaName}.Sanitize()+`.audit_logs`).Scan(&audit); err != nil {
		t.Fatal(err)
	}
	everywhere.WriteString(audit)
	if !strings.Contains(audit, "user.activation_issued") {
		t.Errorf("activation not audited: %s", audit)
	}
	if strings.Contains(everywhere.String(), token) || strings.Contains(everywhere.String(), addr) {
		t.Errorf("the token or the admin's address leaked outside the e-mail:\n%s", everywhere.String())
	}

	// Running the step again sends a new link and voids the first.
	if _, err := e.steps.SendWelcomeEmail(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())}); err != nil {
		t.Fatal(err)
	}
	sent = awstest.SentTo(t, addr)
	if len(sent) != 2 {
		t.Fatalf("%d messages after the re-run, want 2", len(sent))
	}
	var second string
	for _, s := range sent {
		if l := tokenInLink.FindStringSubmatch(s.Body); l != nil && l[2] != token {
			second = l[2]
		}
	}
	hash := e.storedTokenHash(tn)
	if second == "" || string(hash) != string(tenantdb.HashActivationToken(second)) || string(hash) == string(tenantdb.HashActivationToken(token)) {
		t.Error("after a re-run only the newest token must match")
	}
}

func TestWelcomeEmailEscapesNames(t *testing.T) {
	t.Parallel()
	e := newEmailEnv(t, true)
	tn, addr := e.reserveFor("<script>alert(1)</script> Clinic", "<b>Bob</b>")
	e.runSteps(tn.ID, len(dbSteps)) // the welcome e-mail follows activation
	if _, err := e.steps.SendWelcomeEmail(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())}); err != nil {
		t.Fatal(err)
	}
	sent := awstest.SentTo(t, addr)
	if len(sent) != 1 {
		t.Fatalf("%d messages", len(sent))
	}
	body := sent[0].Body
	if strings.Contains(body, "<script>") || strings.Contains(body, "<b>Bob") {
		t.Errorf("names reached the HTML unescaped:\n%s", body)
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt; Clinic") || !strings.Contains(body, "&lt;b&gt;Bob&lt;/b&gt;") {
		t.Errorf("escaped names missing:\n%s", body)
	}
}

func TestWelcomeEmailRejectedLeavesNoToken(t *testing.T) {
	t.Parallel()
	e := newEmailEnv(t, false) // the sender identity is not verified: SES rejects the message
	tn, _ := e.reserveFor("Rejected Clinic", "Quinnzz")
	e.runSteps(tn.ID, len(dbSteps)) // the welcome e-mail follows activation
	_, err := e.steps.SendWelcomeEmail(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())})
	if fault.Name(err) != "ConfigError" {
		t.Fatalf("error = %v (%s), want ConfigError", err, fault.Name(err))
	}
	if hash := e.storedTokenHash(tn); hash != nil {
		t.Error("a token was stored for an e-mail that was never sent")
	}
	logs := e.logRows(tn.ID)
	if last := logs[len(logs)-1]; last.Step != catalog.SendWelcomeEmail.Log || last.Status != store.LogFailed || !strings.Contains(last.Error, "MessageRejected") {
		t.Errorf("last log = %+v", last)
	}
}

func TestSendWelcomeEmailNeedsConfiguration(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // no e-mail settings
	active := e.reserve("Unconfigured Clinic")
	e.runSteps(active.ID, len(dbSteps))
	_, err := e.steps.SendWelcomeEmail(e.ctx, TenantInput{TenantID: active.ID.String(), ExecutionArn: executionArn(active.ID.String())})
	if fault.Name(err) != "ConfigError" {
		t.Fatalf("error = %v (%s), want ConfigError", err, fault.Name(err))
	}
	// A rollback still completes; it says the notice could not be sent.
	tn := e.reserve("Unconfigured Failing Clinic")
	e.runSteps(tn.ID, 4)
	out, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())})
	if err != nil || out.AdminNotified || out.NotificationError != "e-mail is not configured" {
		t.Errorf("rollback without e-mail = %+v, %v", out, err)
	}
}

func TestRollbackNotifiesAdminAndOps(t *testing.T) {
	t.Parallel()
	e := newEmailEnv(t, true)
	tn, addr := e.reserveFor("Failing Clinic", "Quinnzz")
	e.runSteps(tn.ID, 4)
	caught := &CaughtError{Error: "InvariantError", Cause: `{"errorMessage":"ACTIVATE_TENANT: tenant is FAILED, expected PROVISIONING","errorType":"InvariantError"}`}
	out, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String()), Error: caught})
	if err != nil {
		t.Fatal(err)
	}
	if !out.AdminNotified || !out.OpsNotified || out.NotificationError != "" {
		t.Errorf("rollback = %+v", out)
	}
	var notice *awstest.SentEmail
	for _, m := range awstest.SentTo(t, addr) {
		if !tokenInLink.MatchString(m.Body) {
			notice = &m
		}
	}
	if notice == nil {
		t.Fatal("no failure notice to the admin")
	}
	if !strings.Contains(notice.Body, tn.ID.String()) || strings.Contains(notice.Body, "InvariantError") || strings.Contains(notice.Body, "PROVISIONING") {
		t.Errorf("the admin's notice must carry the reference id and no technical detail:\n%s", notice.Body)
	}
	ops := awstest.SentTo(t, e.ops)
	if len(ops) != 1 || !strings.Contains(ops[0].Body, "ACTIVATE_TENANT: tenant is FAILED") || !strings.Contains(ops[0].Body, tn.ID.String()) ||
		strings.Contains(ops[0].Body, addr) || strings.Contains(ops[0].Body, "Quinnzz") {
		t.Errorf("ops notice = %+v", ops)
	}

	// A retried rollback does not notify again.
	again, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String()), Error: caught})
	if err != nil || !again.AdminNotified || again.OpsNotified {
		t.Errorf("second rollback = %+v, %v", again, err)
	}
	if n := len(awstest.SentTo(t, addr)); n != 1 {
		t.Errorf("%d messages to the admin, want the one notice (no welcome before a rollback)", n)
	}
	if n := len(awstest.SentTo(t, e.ops)); n != 1 {
		t.Errorf("%d messages to ops, want 1", n)
	}
}

// A failure notice that cannot be sent is recorded and does not stop the rollback.
func TestRollbackCompletesWhenNoticesFail(t *testing.T) {
	t.Parallel()
	e := newEmailEnv(t, false)
	tn, _ := e.reserveFor("Unlucky Clinic", "Quinnzz")
	e.runSteps(tn.ID, 3)
	out, err := e.steps.Rollback(e.ctx, RollbackInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String()), Error: &CaughtError{Error: "TransientError"}})
	if err != nil {
		t.Fatalf("rollback failed because of the notice: %v", err)
	}
	if out.AdminNotified || out.OpsNotified || !strings.Contains(out.NotificationError, "admin: ConfigError") || !strings.Contains(out.NotificationError, "ops: ConfigError") {
		t.Errorf("rollback = %+v", out)
	}
	assertRolledBack(t, e.env, tn.ID, "TransientError")
	logs := e.logRows(tn.ID)
	if !strings.Contains(string(logs[len(logs)-1].Result), `"adminNotified": false`) {
		t.Errorf("notice outcome not in the log: %s", logs[len(logs)-1].Result)
	}
}

// slowMailer is SES taking its time: the real sender to the emulator, after a pause.
type slowMailer struct {
	Mailer
	pause time.Duration
}

func (m slowMailer) Send(ctx context.Context, msg email.Message) (string, error) {
	time.Sleep(m.pause)
	return m.Mailer.Send(ctx, msg)
}

// While the welcome e-mail step and the resend wait on SES, no connection is idle in a
// transaction: the token is stored before the call, the attempt recorded after it.
func TestEmailStepsHoldNoTransactionWhileSESAnswers(t *testing.T) {
	t.Parallel()
	e := newEmailEnv(t, true)
	e.steps.mailer = slowMailer{Mailer: e.steps.mailer, pause: 500 * time.Millisecond}
	tn, addr := e.reserveFor("Slow Mail Clinic", "Quinnzz")
	e.runSteps(tn.ID, len(dbSteps))
	e.holdsNoTransactionWhile(func() error {
		_, err := e.steps.SendWelcomeEmail(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())})
		return err
	})
	e.holdsNoTransactionWhile(func() error {
		_, err := e.steps.ResendActivation(e.ctx, tn.ID, "req-slow")
		return err
	})
	if sent := awstest.SentTo(t, addr); len(sent) != 2 {
		t.Errorf("%d messages to the admin, want the welcome and the resend", len(sent))
	}
	// The rollback's failure notices go out after its transaction has committed.
	failing, failingAddr := e.reserveFor("Slow Notice Clinic", "Quinnzz")
	e.runSteps(failing.ID, 3)
	var rb RollbackOutput
	e.holdsNoTransactionWhile(func() (err error) {
		rb, err = e.steps.Rollback(e.ctx, RollbackInput{TenantID: failing.ID.String(), ExecutionArn: executionArn(failing.ID.String()),
			Error: &CaughtError{Error: "States.Timeout", Cause: "step timed out"}})
		return err
	})
	if !rb.AdminNotified || !rb.OpsNotified || len(awstest.SentTo(t, failingAddr)) != 1 {
		t.Errorf("rollback %+v; want the admin and ops told once", rb)
	}
	logs := e.logRows(failing.ID)
	var recorded RollbackOutput
	if last := logs[len(logs)-1]; last.Status != store.LogRolledBack || json.Unmarshal(last.Result, &recorded) != nil || !recorded.AdminNotified {
		t.Errorf("the ROLLED_BACK row does not record the notice: %s %s", last.Status, last.Result)
	}
}

// A resend SES refuses leaves the admin the link they had: the new token is withdrawn and
// the earlier one put back, with the withdrawal audited.
func TestRefusedResendKeepsTheEarlierLink(t *testing.T) {
	t.Parallel()
	e := newEmailEnv(t, true)
	tn, _ := e.reserveFor("Refused Resend Clinic", "Quinnzz")
	e.runSteps(tn.ID, len(dbSteps))
	if _, err := e.steps.SendWelcomeEmail(e.ctx, TenantInput{TenantID: tn.ID.String(), ExecutionArn: executionArn(tn.ID.String())}); err != nil {
		t.Fatal(err)
	}
	before := e.storedTokenHash(tn)
	refusing := newEmailEnv(t, false) // a sender SES has not verified
	e.steps.mailer = refusing.steps.mailer
	if _, err := e.steps.ResendActivation(e.ctx, tn.ID, "req-refused"); fault.Name(err) != "ConfigError" {
		t.Fatalf("resend = %v (%s), want SES's refusal as a ConfigError", err, fault.Name(err))
	}
	if after := e.storedTokenHash(tn); string(after) != string(before) {
		t.Error("the refused resend voided the admin's earlier link")
	}
	got, _ := e.store.Get(e.ctx, tn.ID)
	var withdrawn int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM `+pgx.Identifier{got.SchemaName}.Sanitize()+
		`.audit_logs WHERE action = 'user.activation_withdrawn'`).Scan(&withdrawn); err != nil || withdrawn != 1 {
		t.Errorf("withdrawal audit rows: %d, %v; want 1", withdrawn, err)
	}
}
