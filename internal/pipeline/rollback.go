package pipeline

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/audit"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/metrics"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
	"github.com/healthstack/tenant-provisioning/internal/tenantdb"
)

// CaughtError is what a Catch with ResultPath "$.error" stores: Step Functions' Error name
// and Cause (for a Lambda error, a JSON document with errorMessage and errorType).
type CaughtError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// RollbackInput is the failed execution's state: the tenant id and the caught error.
type RollbackInput struct {
	TenantID     string       `json:"tenantId"`
	ExecutionArn string       `json:"executionArn"`
	Error        *CaughtError `json:"error,omitempty"`
	audit.Request
}

// Rollback outcomes.
const (
	OutcomeClean   = "clean"
	OutcomeDirty   = "dirty"
	OutcomeSkipped = "skipped"
)

// RollbackOutput says what the rollback undid and what it could not.
type RollbackOutput struct {
	TenantID string `json:"tenantId"`
	Status   string `json:"status"`
	// Outcome is "clean" when nothing stays behind, "dirty" when something does (Remaining
	// says what), or "skipped" when the tenant belongs to another execution and this
	// rollback left it untouched.
	Outcome    string   `json:"outcome"`
	FailedStep string   `json:"failedStep,omitempty"`
	Undone     []string `json:"undone"`
	Remaining  []string `json:"remaining"`
	// AdminNotified and OpsNotified say whether the failure notices went out; a notice
	// that failed is described in NotificationError and does not fail the rollback.
	AdminNotified     bool   `json:"adminNotified"`
	OpsNotified       bool   `json:"opsNotified"`
	NotificationError string `json:"notificationError,omitempty"`
}

// Rollback undoes a failed provisioning: it drops the tenant's schema and role (only
// objects marked as this tenant's), closes attempts left IN_PROGRESS, marks the tenant
// FAILED with the sanitised error, logs ROLLED_BACK and sends the failure notices. Re-running
// it is harmless: it keeps the first recorded error and does not notify twice. It refuses
// to touch an ACTIVE or ARCHIVED tenant.
//
// A rollback acts only for the execution that owns the tenant. The rollback of any other
// execution (one started by hand with the tenant's input, whose claim was refused) leaves
// the tenant, its schema, role and log untouched and reports the outcome "skipped"; that
// execution then fails with its own error.
func (s *Steps) Rollback(ctx context.Context, in RollbackInput) (RollbackOutput, error) {
	op := catalog.Rollback.Log
	msg := SanitizeError(in.Error)
	if id, err := parseTenantID(op, in.TenantID); err == nil && in.ExecutionArn != "" {
		t, err := s.store.Get(ctx, id)
		if err == nil && !t.OwnedBy(in.ExecutionArn) {
			s.log.InfoContext(ctx, "rollback skipped: the tenant belongs to another execution",
				"tenantId", id.String(), "executionArn", in.ExecutionArn)
			return RollbackOutput{TenantID: id.String(), Status: string(t.Status), Outcome: OutcomeSkipped,
				Undone: []string{}, Remaining: []string{}}, nil
		}
	}
	log := s.log
	var due *notice // the failure notices this rollback is to send, once it has committed
	out, err := attempt(ctx, s, op, in.TenantID, in.ExecutionArn, func(ctx context.Context, id uuid.UUID, a store.StepRun) (RollbackOutput, error) {
		var out RollbackOutput
		err := s.store.InTx(ctx, func(tx *store.Tx) (err error) {
			t, err := lockOwned(ctx, tx, op, id, in.ExecutionArn)
			if err != nil {
				return err
			}
			if out, due, err = s.undo(ctx, tx, t, in, msg); err != nil {
				return err
			}
			log = s.tenantLog(t)
			return tx.FinishStep(ctx, a, store.LogRolledBack, out, "")
		})
		if err != nil || due == nil {
			return out, err
		}
		// After the commit: the tenant is FAILED and its schema gone before anyone is told,
		// and no transaction (nor the locks DROP SCHEMA took) waits on SES. The attempt's
		// row is then updated with who was told; a crash in between tells them again.
		out.AdminNotified, out.OpsNotified, out.NotificationError = s.notifyFailure(ctx, due.t, due.failedStep, due.cause)
		return out, s.store.FinishStep(ctx, a, store.LogRolledBack, out, "")
	})
	if err == nil {
		metrics.RolledBack(ctx, log, out.FailedStep)
	}
	return out, err
}

// notice is a failure notice a rollback has decided to send.
type notice struct {
	t                 tenant.Tenant
	failedStep, cause string
}

// undo is the rollback's work inside its transaction: it drops what the execution made,
// marks the tenant FAILED, and says which notices are due (none when an earlier rollback
// of the execution sent them).
func (s *Steps) undo(ctx context.Context, tx *store.Tx, t tenant.Tenant, in RollbackInput, msg string) (RollbackOutput, *notice, error) {
	op := catalog.Rollback.Log
	out := RollbackOutput{TenantID: t.ID.String(), Status: string(tenant.StatusFailed), Undone: []string{}, Remaining: []string{}}
	if err := requireTransition(op, t, tenant.StatusFailed); err != nil {
		return out, nil, err
	}
	failed, err := tx.LastFailedStep(ctx, t.ID, in.ExecutionArn)
	if err != nil {
		return out, nil, err
	}
	out.FailedStep = failed
	if err := tx.CloseOpenSteps(ctx, t.ID, in.ExecutionArn, "interrupted; rolled back"); err != nil {
		return out, nil, err
	}
	if t.SchemaName != "" {
		n, err := tenantdb.For(t)
		if err != nil {
			return out, nil, err
		}
		dropped, err := tenantdb.Drop(ctx, tx, n)
		if err != nil {
			return out, nil, err
		}
		// Named by kind, not by name: the output is in the execution's history, and the
		// names derive from the organisation's.
		if dropped.SchemaDropped {
			out.Undone = append(out.Undone, "schema dropped")
		}
		if dropped.RoleDropped {
			out.Undone = append(out.Undone, "role dropped")
		}
	}
	contract := t.ContractID
	if contract == "" {
		// Deployed, but the failure came before StoreContractAddress.
		if contract, err = tx.DeployedContract(ctx, t.ID); err != nil {
			return out, nil, err
		}
	}
	if contract != "" {
		// A deployed contract cannot be removed from the ledger; its id stays in this
		// log (and on the tenant row when it was stored) for whoever follows up.
		out.Remaining = append(out.Remaining, "soroban contract "+contract+" stays on the ledger")
	}
	// A contract step that timed out may still have a transaction on its way: until the
	// ledger settles it, it may yet create the tenant's contract, so the rollback is not
	// clean (the deployer's journal knows; the next Deploy settles it).
	pending, err := tx.ContractDeployments(0).Unsettled(ctx, t.ID) // the journal only: no lease is taken

	if err != nil {
		return out, nil, err
	}
	for _, p := range pending {
		out.Remaining = append(out.Remaining, "soroban transaction "+p.Hash+" was sent and is not settled: it may still create the contract")
	}
	// Decided here, inside the transaction, so the ROLLED_BACK row records it.
	out.Outcome = OutcomeClean
	if len(out.Remaining) > 0 {
		out.Outcome = OutcomeDirty
	}
	if msg == "" {
		msg = "provisioning failed"
		if failed != "" {
			msg += " at " + failed
		}
	}
	if err := tx.MarkFailed(ctx, t.ID, msg); err != nil {
		return out, nil, err
	}
	// A retried rollback must not send the admin a second notice.
	notified, err := tx.RollbackNotified(ctx, t.ID, in.ExecutionArn)
	if err != nil || notified {
		out.AdminNotified = notified
		return out, nil, err
	}
	cause := t.ProvisioningError // the first recorded error wins, as on the tenant row
	if cause == "" {
		cause = msg
	}
	return out, &notice{t: t, failedStep: failed, cause: cause}, nil
}

var (
	emailPattern    = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	urlCredsPattern = regexp.MustCompile(`([a-z][a-z0-9+.\-]*://)[^/\s:@]+:[^/\s@]+@`)
	secretKVPattern = regexp.MustCompile(`(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|authorization)\b(\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)`)
)

// SanitizeError turns a caught error into the text stored on the tenant and shown to
// admins: "<Error>: <message>", first line only (no stack traces), e-mail addresses,
// credentials in URLs and key=secret pairs redacted, at most store.MaxErrorLen characters.
// Our own errors are already safe; this guards against what other code may have put there.
func SanitizeError(e *CaughtError) string {
	if e == nil || (e.Error == "" && e.Cause == "") {
		return ""
	}
	msg := e.Cause
	var lambdaErr struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal([]byte(e.Cause), &lambdaErr) == nil && lambdaErr.ErrorMessage != "" {
		msg = lambdaErr.ErrorMessage
	}
	if i := strings.IndexAny(msg, "\r\n"); i >= 0 {
		msg = msg[:i]
	}
	msg = urlCredsPattern.ReplaceAllString(msg, "${1}[redacted]@")
	msg = emailPattern.ReplaceAllString(msg, "[redacted]")
	msg = secretKVPattern.ReplaceAllString(msg, "${1}${2}[redacted]")
	text := strings.TrimSpace(msg)
	if e.Error != "" {
		text = strings.TrimSuffix(e.Error+": "+text, ": ")
	}
	return store.Truncate(text, store.MaxErrorLen)
}
