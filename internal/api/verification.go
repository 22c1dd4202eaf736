package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/healthstack/tenant-provisioning/internal/auditchain"
	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// AuditVerifier checks the audit trail's signed digests and its chain; *auditchain.Verifier
// is one.
type AuditVerifier interface {
	Verify(ctx context.Context, last int) (auditchain.Report, error)
}

// The digests a verification checks unless told: a day's, at the sealer's 15 minutes.
const (
	defaultVerifyDigests = 96
	maxVerifyDigests     = 2000
)

// VerifyAudit serves GET /admin/audit/verification: the newest digests (?digests=N, 96 by
// default, at most 2,000) checked with the signing key's public half, and the chain
// recomputed from the oldest of them to its head. A trail that does not verify is still a
// 200: the report names the first fault, which is the answer asked for.
func (h *Handler) VerifyAudit(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = withActor(ctx, req)
	return h.serve(ctx, req, catalog.VerifyAuditTrail, func(c *call) (reply, error) {
		if h.auditVerifier == nil {
			return reply{}, &fault.ConfigError{Op: "verify audit trail", Msg: "no AuditVerifier configured"}
		}
		n, err := verifyDigests(req.QueryStringParameters)
		if err != nil {
			return reply{}, err
		}
		rep, err := h.auditVerifier.Verify(ctx, n)
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: rep}, nil
	})
}

// verifyDigests reads ?digests=N: how many of the newest digests to check. An empty
// parameter counts as absent; an unknown one is refused, as the list routes refuse theirs.
func verifyDigests(params map[string]string) (int, error) {
	n := defaultVerifyDigests
	for k, v := range params {
		if v == "" {
			continue
		}
		if k != "digests" {
			return 0, &fault.ValidationError{Op: "parse verification query", Fields: []fault.FieldError{{Field: "query", Message: "only digests is accepted"}}}
		}
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > maxVerifyDigests {
			return 0, &fault.ValidationError{Op: "parse verification query", Fields: []fault.FieldError{{Field: "digests", Message: "must be an integer from 1 to " + strconv.Itoa(maxVerifyDigests)}}}
		}
	}
	return n, nil
}
