package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/store"
	"github.com/healthstack/tenant-provisioning/internal/tenant"
)

// DescribeTimeout keeps a slow Step Functions from holding up the log, which is the part
// of the answer that comes from our own database.
const DescribeTimeout = 3 * time.Second

type statusBody struct {
	TenantID      uuid.UUID     `json:"tenantId"`
	TenantName    string        `json:"tenantName"`
	OverallStatus tenant.Status `json:"overallStatus"`
	Logs          []logBody     `json:"logs"`
	ExecutionArn  *string       `json:"executionArn"`
	CreatedAt     time.Time     `json:"createdAt"`
	UpdatedAt     time.Time     `json:"updatedAt"`
	CompletedAt   *time.Time    `json:"completedAt"`
	// ProvisioningError is the sanitised cause of a FAILED tenant: a step that failed
	// before it could log (a timeout, a crash) shows nowhere else in this response.
	ProvisioningError *string        `json:"provisioningError"`
	Execution         *executionBody `json:"execution,omitempty"`
	// ExecutionStatusError says the execution could not be described this time.
	ExecutionStatusError string `json:"executionStatusError,omitempty"`
}

// logBody is one attempt of one step. Its error text was sanitised when stored.
type logBody struct {
	Step         string    `json:"step"`
	Status       string    `json:"status"`
	Attempt      int       `json:"attempt"`
	ExecutionArn *string   `json:"executionArn"`
	DurationMS   *int      `json:"durationMs"`
	Error        *string   `json:"error"`
	CreatedAt    time.Time `json:"createdAt"`
	// Rollback is what a finished rollback left: clean, or dirty with what remains.
	Rollback *rollbackBody `json:"rollback,omitempty"`
}

type rollbackBody struct {
	Outcome   string   `json:"outcome"`
	Remaining []string `json:"remaining"`
}

type executionBody struct {
	Status    string     `json:"status"`
	StartedAt time.Time  `json:"startedAt"`
	StoppedAt *time.Time `json:"stoppedAt"`
	Error     *string    `json:"error"`
	Cause     *string    `json:"cause"`
}

// GetProvisioningStatus serves GET /admin/tenants/{id}/provisioning-status: the tenant's
// status, its step log and, when a Describer is configured, its execution as Step
// Functions reports it.
func (h *Handler) GetProvisioningStatus(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = withActor(ctx, req)
	return h.serve(ctx, req, catalog.GetProvisioningStatus, func(c *call) (reply, error) {
		t, err := h.pathTenant(c)
		if err != nil {
			return reply{}, err
		}
		logs, err := h.store.Logs(ctx, t.ID)
		if err != nil {
			return reply{}, err
		}
		body := statusBody{
			TenantID: t.ID, TenantName: t.Name, OverallStatus: t.Status, Logs: make([]logBody, 0, len(logs)),
			ExecutionArn: optional(t.ExecutionArn), CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
			CompletedAt: utc(t.CompletedAt),
		}
		if t.Status == tenant.StatusFailed {
			body.ProvisioningError = optional(t.ProvisioningError)
		}
		for _, l := range logs {
			body.Logs = append(body.Logs, logBody{Step: l.Step, Status: l.Status, Attempt: l.Attempt,
				ExecutionArn: optional(l.ExecutionArn), DurationMS: l.DurationMS, Error: optional(l.Error),
				CreatedAt: l.CreatedAt.UTC(), Rollback: rollbackOf(l)})
		}
		if h.describer != nil && t.ExecutionArn != "" {
			body.Execution, body.ExecutionStatusError = h.describe(c, t.ExecutionArn)
		}
		return reply{status: http.StatusOK, body: body}, nil
	})
}

// rollbackOf reads the outcome a finished rollback recorded with its log row.
func rollbackOf(l store.StepLog) *rollbackBody {
	if l.Step != catalog.Rollback.Log || l.Status != store.LogRolledBack || len(l.Result) == 0 {
		return nil
	}
	var r rollbackBody
	if json.Unmarshal(l.Result, &r) != nil || r.Outcome == "" {
		return nil
	}
	if r.Remaining == nil {
		r.Remaining = []string{}
	}
	return &r
}

// describe asks for the execution's status. Its failure is reported in the body, not as the
// request's: the log from our database is still worth showing.
func (h *Handler) describe(c *call, arn string) (*executionBody, string) {
	ctx, cancel := context.WithTimeout(c.ctx, DescribeTimeout)
	defer cancel()
	s, err := h.describer.Describe(ctx, arn)
	if err != nil {
		h.log.WarnContext(c.ctx, "execution status unavailable", "requestId", c.requestID,
			"tenantId", c.tenantID.String(), "executionArn", arn, "errorClass", fault.Name(fault.Classify("describe execution", err)))
		return nil, "unavailable"
	}
	return &executionBody{Status: s.Status, StartedAt: s.StartedAt.UTC(), StoppedAt: utc(s.StoppedAt),
		Error: optional(s.Error), Cause: optional(s.Cause)}, ""
}
