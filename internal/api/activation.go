package api

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/pipeline"
)

type activatedBody struct {
	Status string `json:"status"`
}

// invalidActivation is the one answer for every link that does not work: it never says
// whether the tenant, the token, its expiry or an earlier use was the reason.
func invalidActivation(err error) *problemError {
	return newProblem(http.StatusBadRequest, ProblemInvalidActivation,
		"This activation link is not valid: it may have expired, been used or been replaced. Ask your platform administrator for a new one.").because(err)
}

// Activate serves POST /activation, the public route behind the welcome e-mail's link: it
// takes {"tenantId", "token", "password"} and, if the token is the admin's current one and
// unexpired, sets the password (argon2id) and activates the account, once. The token is
// the only credential; API Gateway throttles the route. Any bad link is the same 400.
func (h *Handler) Activate(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = withActor(ctx, req)
	return h.serve(ctx, req, catalog.Activate, func(c *call) (reply, error) {
		if h.activations == nil {
			return reply{}, &fault.ConfigError{Op: "activate", Msg: "no Activations configured"}
		}
		// Every request counts, a malformed one too: the limit is per client, not per link.
		wait, err := h.activations.AdmitActivation(ctx, clientAddr(req))
		if err != nil {
			return reply{}, err
		}
		if wait > 0 {
			pe := newProblem(http.StatusTooManyRequests, ProblemTooManyAttempts,
				"Too many activation attempts from this address; retry after the Retry-After delay.")
			pe.header = map[string]string{"Retry-After": strconv.Itoa(int(wait / time.Second))}
			return reply{}, pe
		}
		if !isJSON(header(req, "content-type")) {
			return reply{}, newProblem(http.StatusUnsupportedMediaType, ProblemUnsupportedMediaType,
				"The body must be sent as application/json (UTF-8).")
		}
		body, err := requestBody(req)
		if err != nil {
			return reply{}, err
		}
		in, ok := decodeActivation(body)
		if !ok {
			return reply{}, newProblem(http.StatusBadRequest, ProblemMalformedBody,
				"The body must be one JSON object with the string fields tenantId, token and password, each once.")
		}
		id, err := uuid.Parse(in.TenantID)
		if err != nil || len(in.TenantID) != 36 || len(in.Token) != 43 {
			return reply{}, invalidActivation(err)
		}
		c.tenantID = &id
		err = h.activations.RedeemActivation(ctx, id, in.Token, in.Password)
		if errors.Is(err, pipeline.ErrInvalidActivation) {
			return reply{}, invalidActivation(err)
		}
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: activatedBody{Status: "activated"}}, nil
	})
}

// clientAddr is the client the request came from, as API Gateway saw it (the local server
// gives host:port): its IPv4 address, or its IPv6 /64, which one subscriber holds whole and
// could otherwise walk through. One the limit cannot read counts as the unspecified
// address: such requests share one allowance rather than escape the limit.
func clientAddr(req events.APIGatewayV2HTTPRequest) netip.Addr {
	a := sourceAddr(req)
	switch {
	case !a.IsValid():
		return netip.IPv6Unspecified()
	case a.Is6():
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// sourceAddr is the address the request came from, as API Gateway saw it (the local server
// gives host:port); the zero Addr when there is none to read.
func sourceAddr(req events.APIGatewayV2HTTPRequest) netip.Addr {
	ip := req.RequestContext.HTTP.SourceIP
	if ap, err := netip.ParseAddrPort(ip); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(ip)
	return a.Unmap()
}

type activationRequest struct {
	TenantID string `json:"tenantId"`
	Token    string `json:"token"`
	Password string `json:"password"`
}

// decodeActivation reads exactly one object with the three string fields, all present, and
// nothing else (decodeFields' rules).
func decodeActivation(body []byte) (activationRequest, bool) {
	var in activationRequest
	fields := map[string]*string{"tenantId": &in.TenantID, "token": &in.Token, "password": &in.Password}
	notStrings, ok := decodeFields(body, fields)
	return in, ok && len(notStrings) == 0 && len(fields) == 0
}

type resentBody struct {
	TenantID  uuid.UUID `json:"tenantId"`
	Status    string    `json:"status"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// ResendActivationEmail serves POST /admin/tenants/{id}/activation-email: it e-mails the
// admin of an ACTIVE tenant a new activation link, which voids the earlier one. 409 when
// the tenant is not ACTIVE or its admin has activated already.
func (h *Handler) ResendActivationEmail(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	ctx = withActor(ctx, req)
	return h.serve(ctx, req, catalog.ResendActivationEmail, func(c *call) (reply, error) {
		if h.activations == nil {
			return reply{}, &fault.ConfigError{Op: "resend activation", Msg: "no Activations configured"}
		}
		id, err := c.pathID()
		if err != nil {
			return reply{}, err
		}
		sent, err := h.activations.ResendActivation(ctx, id, "admin-api:"+c.requestID)
		switch {
		case errors.Is(err, pipeline.ErrNotActive):
			return reply{}, newProblem(http.StatusConflict, ProblemNotActive,
				"Only an ACTIVE tenant's admin can be sent an activation link.").because(err)
		case errors.Is(err, pipeline.ErrAlreadyActivated):
			return reply{}, newProblem(http.StatusConflict, ProblemAlreadyActivated,
				"The tenant's admin has activated their account already.").because(err)
		case err != nil:
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: resentBody{TenantID: id, Status: "sent", ExpiresAt: sent.ActivationExpiresAt.UTC()}}, nil
	})
}
