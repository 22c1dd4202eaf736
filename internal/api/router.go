package api

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
)

// LambdaHandler is the shape of every route handler, as its Lambda receives requests.
type LambdaHandler func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Route dispatches a request to its handler by method and path, filling the path parameters
// and route key as API Gateway would, so one local server can serve every route. Unknown
// paths are 404 and other methods 405 with Allow; in AWS, API Gateway routes instead and
// answers those itself.
func (h *Handler) Route(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	routes, template, id := h.match(path)
	if routes == nil {
		return newProblem(http.StatusNotFound, ProblemNotFound, "No route has this path.").
			response("", requestID(req)), nil
	}
	method := req.RequestContext.HTTP.Method
	next, ok := routes[method]
	if !ok {
		allow := make([]string, 0, len(routes))
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			if routes[m] != nil {
				allow = append(allow, m)
			}
		}
		pe := newProblem(http.StatusMethodNotAllowed, ProblemMethodNotAllowed, "This path does not accept that method; see Allow.")
		pe.header = map[string]string{"Allow": strings.Join(allow, ", ")}
		return pe.response(template, requestID(req)), nil
	}
	if id != "" {
		req.PathParameters = map[string]string{pathParamID: id}
	}
	req.RouteKey = method + " " + template
	req.RequestContext.RouteKey = req.RouteKey
	return next(ctx, req)
}

// match finds the routes of path: the handlers by method, the path template and the raw id.
func (h *Handler) match(path string) (map[string]LambdaHandler, string, string) {
	if path == "/activation" {
		return map[string]LambdaHandler{http.MethodPost: h.Activate}, "/activation", ""
	}
	if rest, ok := strings.CutPrefix(path, "/admin/upgrades"); ok {
		return h.matchUpgrades(rest)
	}
	rest, ok := strings.CutPrefix(path, "/admin/tenants")
	switch {
	case !ok:
		return nil, "", ""
	case rest == "":
		return map[string]LambdaHandler{http.MethodGet: h.ListTenants, http.MethodPost: h.CreateTenant}, "/admin/tenants", ""
	}
	segs := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	if !strings.HasPrefix(rest, "/") || segs[0] == "" {
		return nil, "", ""
	}
	// API Gateway hands path parameters over decoded.
	id, err := url.PathUnescape(segs[0])
	if err != nil {
		id = segs[0]
	}
	switch {
	case len(segs) == 1:
		return map[string]LambdaHandler{http.MethodGet: h.GetTenant, http.MethodDelete: h.ArchiveTenant}, "/admin/tenants/{id}", id
	case len(segs) == 2 && segs[1] == "provisioning-status":
		return map[string]LambdaHandler{http.MethodGet: h.GetProvisioningStatus}, "/admin/tenants/{id}/provisioning-status", id
	case len(segs) == 2 && segs[1] == "retry":
		return map[string]LambdaHandler{http.MethodPost: h.RetryTenant}, "/admin/tenants/{id}/retry", id
	case len(segs) == 2 && segs[1] == "activation-email":
		return map[string]LambdaHandler{http.MethodPost: h.ResendActivationEmail}, "/admin/tenants/{id}/activation-email", id
	}
	return nil, "", ""
}

func (h *Handler) matchUpgrades(rest string) (map[string]LambdaHandler, string, string) {
	if rest == "" {
		return map[string]LambdaHandler{http.MethodPost: h.StartUpgrade}, "/admin/upgrades", ""
	}
	raw, ok := strings.CutPrefix(rest, "/")
	if !ok || raw == "" || strings.Contains(raw, "/") {
		return nil, "", ""
	}
	id, err := url.PathUnescape(raw)
	if err != nil {
		id = raw
	}
	return map[string]LambdaHandler{http.MethodGet: h.GetUpgrade}, "/admin/upgrades/{id}", id
}

// maxHTTPBody is API Gateway's payload limit; the handlers apply their own, smaller ones.
const maxHTTPBody = 10 << 20

// Claims returns the verified JWT of a request, as API Gateway's JWT authorizer would pass it
// on, or nil (or an error) when the request has none; the handler then answers 401.
type Claims func(r *http.Request) (*events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, error)

// ToHTTP serves a route handler over net/http, building the payload 2.0 event API Gateway
// would: method, raw path and query, query parameters (repeated ones joined with commas),
// lower-cased headers, cookies, the body (base64 when it is not UTF-8), a request id, and the
// JWT from claims. It is for local servers and tests; in AWS, API Gateway does this.
func ToHTTP(h LambdaHandler, claims Claims) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, pe := lambdaRequest(r, claims)
		if pe != nil {
			writeHTTP(w, pe.response("", req.RequestContext.RequestID))
			return
		}
		resp, err := h(r.Context(), req)
		if err != nil {
			// API Gateway answers a failed invocation with a bare 500; handlers never fail so.
			resp = newProblem(http.StatusInternalServerError, ProblemInternal, "The handler failed.").
				response("", req.RequestContext.RequestID)
		}
		writeHTTP(w, resp)
	})
}

func lambdaRequest(r *http.Request, claims Claims) (events.APIGatewayV2HTTPRequest, *problemError) {
	now := time.Now()
	req := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:  "$default",
			Stage:     "$default",
			RequestID: uuid.NewString(),
			Time:      now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: r.RemoteAddr, UserAgent: r.UserAgent(),
			},
		},
	}
	for k, vs := range r.Header {
		if k == "Cookie" {
			for _, c := range vs {
				req.Cookies = append(req.Cookies, strings.Split(c, "; ")...)
			}
			continue
		}
		req.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	if q := r.URL.Query(); len(q) > 0 {
		req.QueryStringParameters = make(map[string]string, len(q))
		for k, vs := range q {
			req.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if claims != nil {
		// A claims error means the token was not accepted: the request goes on without a
		// caller, exactly as far as the handler's own 401.
		if jwt, err := claims(r); err == nil && jwt != nil {
			req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: jwt}
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxHTTPBody+1))
	switch {
	case err != nil:
		return req, newProblem(http.StatusBadRequest, ProblemMalformedBody, "The body could not be read.")
	case len(body) > maxHTTPBody:
		return req, newProblem(http.StatusRequestEntityTooLarge, ProblemPayloadTooLarge, "The body is larger than API Gateway accepts.")
	}
	if utf8.Valid(body) {
		req.Body = string(body)
	} else {
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return req, nil
}

func writeHTTP(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}
