package api

import (
	"errors"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Authorize's refusals. API Gateway's JWT authorizer has already verified the token; these
// checks are the second line, for a route deployed without the authorizer or with the wrong
// scopes, and for the local server.
var (
	ErrUnauthenticated = errors.New("api: no verified caller")
	ErrForbidden       = errors.New("api: caller lacks the required scope")
)

// Authorize accepts a request whose verified JWT has a subject and grants h's required
// scope, in the authorizer's scopes or in the token's "scope" or "scp" claim. It returns
// ErrUnauthenticated or ErrForbidden otherwise.
func (h *Handler) Authorize(req events.APIGatewayV2HTTPRequest) error {
	a := req.RequestContext.Authorizer
	if a == nil || a.JWT == nil || strings.TrimSpace(a.JWT.Claims["sub"]) == "" {
		return ErrUnauthenticated
	}
	if slices.Contains(a.JWT.Scopes, h.scope) ||
		slices.Contains(claimList(a.JWT.Claims["scope"]), h.scope) ||
		slices.Contains(claimList(a.JWT.Claims["scp"]), h.scope) {
		return nil
	}
	return ErrForbidden
}

// claimList splits a space-separated scope claim (RFC 8693). API Gateway renders a claim
// that was a JSON array, as some providers issue "scp", as "[a b]".
func claimList(v string) []string {
	if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
		v = v[1 : len(v)-1]
	}
	return strings.Fields(v)
}
