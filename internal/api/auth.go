package api

import (
	"errors"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
)

// Authorize's refusals. API Gateway's JWT authorizer has already verified the token; these
// checks are the second line, for a route deployed without the authorizer or with the wrong
// scopes, and for the local server.
var (
	ErrUnauthenticated = errors.New("api: no verified caller")
	ErrForbidden       = errors.New("api: caller lacks the required scope")
)

// Authorize accepts a request to route f whose verified JWT has a subject and grants one of
// the scopes f accepts (Scopes), in the authorizer's scopes or in the token's "scope" or
// "scp" claim. It returns ErrUnauthenticated or ErrForbidden otherwise.
func (h *Handler) Authorize(req events.APIGatewayV2HTTPRequest, f catalog.Function) error {
	a, ok := caller(req)
	if !ok {
		return ErrUnauthenticated
	}
	for _, scope := range h.Scopes(f) {
		if slices.Contains(a.Scopes, scope) ||
			slices.Contains(claimList(a.Claims["scope"]), scope) ||
			slices.Contains(claimList(a.Claims["scp"]), scope) {
			return nil
		}
	}
	return ErrForbidden
}

// caller is the request's verified JWT, when it names a subject.
func caller(req events.APIGatewayV2HTTPRequest) (*events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, bool) {
	a := req.RequestContext.Authorizer
	if a == nil || a.JWT == nil || strings.TrimSpace(a.JWT.Claims["sub"]) == "" {
		return nil, false
	}
	return a.JWT, true
}

// Scopes are the scopes that grant route f, as the template's authorizer requires them: the
// read scope or the admin scope for a route that only reads, the admin scope for the rest.
func (h *Handler) Scopes(f catalog.Function) []string {
	if f.ReadOnly() && h.readScope != "" {
		return []string{h.readScope, h.scope}
	}
	return []string{h.scope}
}

// claimList splits a space-separated scope claim (RFC 8693). API Gateway renders a claim
// that was a JSON array, as some providers issue "scp", as "[a b]".
func claimList(v string) []string {
	if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
		v = v[1 : len(v)-1]
	}
	return strings.Fields(v)
}
