package pipeline

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// Mailer sends one e-mail and returns the provider's message id; *email.Sender is the
// production one.
type Mailer interface {
	Send(ctx context.Context, m email.Message) (string, error)
}

// EmailSettings configures the welcome e-mail and the failure notices.
type EmailSettings struct {
	Mailer Mailer
	// AppBaseURL is where admins activate their account.
	AppBaseURL string
	// TenantURLTemplate is the tenant's address, with {tenantId} and {slug} placeholders.
	TenantURLTemplate string
	// OpsAddress, when set, receives the detailed cause of each failure.
	OpsAddress    string
	ActivationTTL time.Duration
}

// WithEmail enables the e-mail parts of the pipeline.
func WithEmail(e EmailSettings) Option {
	return func(s *Steps) { s.email = e }
}

// sendTimeout bounds one SES call, well inside the step's Lambda timeout, so a hung
// call ends as a retryable TransientError rather than a killed invocation.
const sendTimeout = 10 * time.Second

// SendWelcomeEmailOutput reports the sent message; the token is not in it.
type SendWelcomeEmailOutput struct {
	MessageID           string    `json:"messageId"`
	ActivationExpiresAt time.Time `json:"activationExpiresAt"`
}

// SendWelcomeEmail issues the admin of an ACTIVE tenant a fresh single-use activation token
// (stored only as a hash, replacing any earlier one) and e-mails the tenant URL and
// activation link. The token exists only in that e-mail. Re-running sends a new link and
// voids the old one; if sending fails, the new token is not stored either. It runs after
// ActivateTenant, so an admin who got an activation link never hears that the tenant
// could not be set up.
func (s *Steps) SendWelcomeEmail(ctx context.Context, in TenantInput) (SendWelcomeEmailOutput, error) {
	return runInSchema(ctx, s, catalog.SendWelcomeEmail.Log, in.TenantID, in.ExecutionArn, tenant.StatusActive, func(ctx context.Context, tx pgx.Tx, t tenant.Tenant, n tenantdb.Names) (SendWelcomeEmailOutput, error) {
		return s.sendWelcome(ctx, tx, t, n, t.ExecutionArn)
	})
}

// sendWelcome issues a fresh activation token inside tx and e-mails the link; the token
// is stored only if the e-mail was accepted (tx rolls back otherwise). issuedBy is the
// execution or the admin request that asked, for the audit row.
func (s *Steps) sendWelcome(ctx context.Context, tx pgx.Tx, t tenant.Tenant, n tenantdb.Names, issuedBy string) (SendWelcomeEmailOutput, error) {
	op := catalog.SendWelcomeEmail.Log
	var out SendWelcomeEmailOutput
	if s.email.Mailer == nil {
		return out, &fault.ConfigError{Op: op, Msg: "e-mail is not configured"}
	}
	a, err := tenantdb.IssueActivation(ctx, tx, n, t.AdminEmail, issuedBy, s.email.ActivationTTL)
	if err != nil {
		return out, err
	}
	msg, err := email.WelcomeMessage(t.AdminEmail, email.Welcome{
		TenantName:     t.Name,
		AdminFirstName: t.AdminFirstName,
		TenantURL:      s.tenantURL(t),
		ActivationURL:  s.activationURL(t.ID, a.Token),
		ExpiresAt:      a.ExpiresAt,
	})
	if err != nil {
		return out, err
	}
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	out.MessageID, err = s.email.Mailer.Send(sctx, msg)
	out.ActivationExpiresAt = a.ExpiresAt
	return out, err
}

func (s *Steps) tenantURL(t tenant.Tenant) string {
	return strings.NewReplacer("{tenantId}", t.ID.String(), "{slug}", url.PathEscape(t.Slug)).Replace(s.email.TenantURLTemplate)
}

// activationURL puts tenant and token in the fragment: browsers never send a fragment to a
// server, so the token stays out of access logs, proxies and Referer headers; the
// activation page reads it in the browser and posts it.
func (s *Steps) activationURL(id uuid.UUID, token string) string {
	return s.email.AppBaseURL + "/activate#" + url.Values{"tenant": {id.String()}, "token": {token}}.Encode()
}

// notifyFailure tells the tenant admin, generically, that onboarding failed, and the ops
// address, if any, what failed and why. A notice that cannot be sent never fails the
// rollback: the outcome is reported for the log instead.
func (s *Steps) notifyFailure(ctx context.Context, t tenant.Tenant, failedStep, cause string) (admin, ops bool, problem string) {
	if s.email.Mailer == nil {
		return false, false, "e-mail is not configured"
	}
	var problems []string
	send := func(who string, msg email.Message, err error) bool {
		if err == nil {
			sctx, cancel := context.WithTimeout(ctx, sendTimeout)
			defer cancel()
			_, err = s.email.Mailer.Send(sctx, msg)
		}
		if err != nil {
			problems = append(problems, who+": "+fault.Name(err)+": "+err.Error())
			s.log.WarnContext(ctx, "failure notice not sent", "tenantId", t.ID.String(), "recipient", who, "errorType", fault.Name(err))
			return false
		}
		return true
	}
	msg, err := email.FailureNoticeMessage(t.AdminEmail, email.FailureNotice{
		TenantName: t.Name, AdminFirstName: t.AdminFirstName, ReferenceID: t.ID.String(),
	})
	admin = send("admin", msg, err)
	if s.email.OpsAddress != "" {
		msg, err := email.OpsFailureMessage(s.email.OpsAddress, email.OpsFailure{
			TenantID: t.ID.String(), TenantName: t.Name, FailedStep: failedStep, Error: cause, ExecutionArn: t.ExecutionArn,
		})
		ops = send("ops", msg, err)
	}
	return admin, ops, strings.Join(problems, "; ")
}
