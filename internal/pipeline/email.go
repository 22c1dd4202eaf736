package pipeline

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/config"
	"github.com/healthstack/tenant-provisioning/internal/email"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// Mailer sends one e-mail and returns the provider's message id; *email.Sender is the
// production one.
type Mailer interface {
	Send(ctx context.Context, m email.Message) (string, error)
}

// WithEmail enables the e-mail parts of the pipeline: mailer sends the welcome e-mail and
// the failure notices, with cfg's links (AppBaseURL, TenantURLTemplate), OpsAddress and
// ActivationTTL. cfg's From and ConfigurationSet are the mailer's business: *email.Sender
// is built with them.
func WithEmail(mailer Mailer, cfg config.Email) Option {
	return func(s *Steps) { s.mailer, s.email = mailer, cfg }
}

// SendTimeout bounds one SES call inside the shortest timeout of a function that sends (the
// resend route's 15 s) less deadline.Reserve, so a hung call ends as a retryable
// TransientError rather than a killed invocation.
const SendTimeout = 8 * time.Second

// SendWelcomeEmailOutput reports the sent message; the token is not in it.
type SendWelcomeEmailOutput struct {
	MessageID           string    `json:"messageId"`
	ActivationExpiresAt time.Time `json:"activationExpiresAt"`
}

// SendWelcomeEmail issues the admin of an ACTIVE tenant a fresh single-use activation token
// (stored only as a hash, replacing any earlier one) and e-mails the tenant URL and
// activation link. The token exists only in that e-mail. Re-running sends a new link and
// voids the old one; if sending fails, the new token is withdrawn and the old one put back.
// It runs after ActivateTenant, so an admin who got an activation link never hears that the
// tenant could not be set up.
//
// No transaction is open while SES is called: the token is stored in one short transaction,
// the e-mail sent, and the attempt recorded with SES's message id in another (or the token
// withdrawn in another, when SES refused).
func (s *Steps) SendWelcomeEmail(ctx context.Context, in TenantInput) (SendWelcomeEmailOutput, error) {
	return runAround(ctx, s, catalog.SendWelcomeEmail.Log, in.TenantID, in.ExecutionArn, tenant.StatusActive,
		func(ctx context.Context, tx *store.Tx, t tenant.Tenant) (welcome, error) {
			n, err := tenantdb.For(t)
			if err != nil {
				return welcome{}, err
			}
			return s.issueWelcome(ctx, tx, t, n, t.ExecutionArn)
		}, s.sendWelcome)
}

// welcome is a welcome e-mail ready to send, its token already stored.
type welcome struct {
	msg        email.Message
	activation tenantdb.Activation
	names      tenantdb.Names
}

// issueWelcome stores a fresh activation token inside tx and builds the e-mail that carries
// its link. issuedBy is the execution or the admin request that asked, for the audit row.
func (s *Steps) issueWelcome(ctx context.Context, tx *store.Tx, t tenant.Tenant, n tenantdb.Names, issuedBy string) (welcome, error) {
	if s.mailer == nil {
		return welcome{}, &fault.ConfigError{Op: catalog.SendWelcomeEmail.Log, Msg: "e-mail is not configured"}
	}
	a, err := tenantdb.IssueActivation(ctx, tx, n, t.AdminEmail, issuedBy, s.email.ActivationTTL)
	if err != nil {
		return welcome{}, err
	}
	msg, err := email.WelcomeMessage(t.AdminEmail, email.Welcome{
		TenantName:     t.Name,
		AdminFirstName: t.AdminFirstName,
		TenantURL:      s.tenantURL(t),
		ActivationURL:  s.activationURL(t.ID, a.Token),
		ExpiresAt:      a.ExpiresAt,
	})
	return welcome{msg: msg, activation: a, names: n}, err
}

// sendWelcome sends an issued welcome e-mail through SES, with no transaction open. When
// SES does not take it, the token is withdrawn (and the one it replaced put back) in a short
// transaction of its own: a link that was never sent must not be the only one that works.
func (s *Steps) sendWelcome(ctx context.Context, t tenant.Tenant, w welcome) (SendWelcomeEmailOutput, error) {
	sctx, cancel := context.WithTimeout(ctx, SendTimeout)
	id, err := s.mailer.Send(sctx, w.msg)
	cancel()
	out := SendWelcomeEmailOutput{MessageID: id, ActivationExpiresAt: w.activation.ExpiresAt}
	if err == nil {
		return out, nil
	}
	// Detached: the invocation's deadline may be why the send failed.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FailureLogTimeout)
	defer cancel()
	if werr := pgx.BeginFunc(wctx, s.pool, func(tx pgx.Tx) error {
		return tenantdb.WithdrawActivation(wctx, tx, w.names, w.activation, "the e-mail was not sent: "+fault.Name(err))
	}); werr != nil {
		s.log.WarnContext(ctx, "unsent activation token not withdrawn", "tenantId", t.ID.String(), "errorType", fault.Name(werr))
	}
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
	if s.mailer == nil {
		return false, false, "e-mail is not configured"
	}
	var problems []string
	send := func(who string, msg email.Message, err error) bool {
		if err == nil {
			sctx, cancel := context.WithTimeout(ctx, SendTimeout)
			defer cancel()
			_, err = s.mailer.Send(sctx, msg)
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
