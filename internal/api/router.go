package api

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/healthstack/tenant-provisioning/internal/catalog"
)

// LambdaHandler is the shape of every route handler, as its Lambda receives requests.
type LambdaHandler func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// HTTP serves every route of the catalogue over net/http, as API Gateway routes them, each
// through ToHTTP with claims: a local server mounts it at /admin/ and POST /activation.
// Unknown paths are 404 and other methods 405 with Allow; in AWS, API Gateway answers those
// itself.
func (h *Handler) HTTP(claims Claims) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn := h.router.route(r)
		if fn == nil {
			writeHTTP(w, h.router.notRouted(r, uuid.NewString()))
			return
		}
		ToHTTP(fn, claims).ServeHTTP(w, r)
	})
}

// Route serves one API Gateway event as HTTP does a request, with the same router: the
// event reaches its route's handler as it is, plus the path parameters and route key. The
// path is the raw path, else the context's.
func (h *Handler) Route(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	// Not url.Parse: it would read "//admin/..." as a host.
	decoded, err := url.PathUnescape(path)
	if err != nil {
		return notFound(requestID(req)), nil
	}
	r := &http.Request{Method: req.RequestContext.HTTP.Method, URL: &url.URL{Path: decoded, RawPath: path}}
	fn := h.router.route(r)
	if fn == nil {
		return h.router.notRouted(r, requestID(req)), nil
	}
	routed(&req, r)
	return fn(ctx, req)
}

// router finds each request's route with a ServeMux of the catalogue's patterns.
type router struct{ mux *http.ServeMux }

func newRouter(functions map[string]LambdaHandler) *router {
	mux := http.NewServeMux()
	for _, f := range catalog.Routes {
		mux.Handle(f.Route, endpoint(functions[f.LogicalID]))
	}
	return &router{mux}
}

// route is r's handler, with r's Pattern and path values set by the mux; nil when no route
// takes r.
func (rt *router) route(r *http.Request) LambdaHandler {
	m := rt.serve(r)
	// The mux takes HEAD for a GET route; API Gateway does not.
	if m.fn == nil || !strings.HasPrefix(r.Pattern, r.Method+" ") {
		return nil
	}
	return m.fn
}

// notRouted answers a request no route takes: 405 with Allow when routes of other methods
// have its path, else 404. The mux knows which: asked with a method no route has (API
// Gateway has no TRACE routes), it answers 405 and lists the path's methods, or 404, or
// redirects a path it would clean (API Gateway does not clean paths: not found).
func (rt *router) notRouted(r *http.Request, requestID string) events.APIGatewayV2HTTPResponse {
	probe := *r
	probe.Method = http.MethodTrace
	m := rt.serve(&probe)
	listed := strings.Split(m.header.Get("Allow"), ", ")
	var allow []string
	for _, method := range allowOrder {
		if slices.Contains(listed, method) {
			allow = append(allow, method)
		}
	}
	if m.status != http.StatusMethodNotAllowed || len(allow) == 0 {
		return notFound(requestID)
	}
	// The instance is the path's template, from the pattern of a method it does take.
	probe.Method = allow[0]
	rt.serve(&probe)
	_, template, _ := strings.Cut(probe.Pattern, " ")
	pe := newProblem(http.StatusMethodNotAllowed, ProblemMethodNotAllowed, "This path does not accept that method; see Allow.")
	pe.header = map[string]string{"Allow": strings.Join(allow, ", ")}
	return pe.response(template, requestID)
}

// notFound answers a path no route has. Its problem has no instance: that would echo the
// path.
func notFound(requestID string) events.APIGatewayV2HTTPResponse {
	return newProblem(http.StatusNotFound, ProblemNotFound, "No route has this path.").response("", requestID)
}

// allowOrder is the order Allow lists methods in, reads first. The mux's own Allow is
// alphabetical and names HEAD for every GET route, which API Gateway does not route.
var allowOrder = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

// serve runs r through the mux and records what it made of r.
func (rt *router) serve(r *http.Request) *match {
	m := &match{header: http.Header{}}
	rt.mux.ServeHTTP(m, r)
	return m
}

// endpoint is a route's handler as the mux holds it: served, it only reports itself, so
// that the router learns the handler with the path values the mux set on the request.
type endpoint LambdaHandler

func (e endpoint) ServeHTTP(w http.ResponseWriter, _ *http.Request) { w.(*match).fn = LambdaHandler(e) }

// match is what the mux made of a request: the route's handler, or the status and headers
// of the mux's own answer (404, 405 with Allow, or a redirect to the cleaned path).
type match struct {
	fn     LambdaHandler
	status int
	header http.Header
}

func (m *match) Header() http.Header { return m.header }

func (m *match) WriteHeader(status int) {
	if m.status == 0 {
		m.status = status
	}
}

func (m *match) Write(b []byte) (int, error) {
	m.WriteHeader(http.StatusOK)
	return len(b), nil
}

// routed adds what API Gateway adds once it has chosen a route: the route key, which has
// the form of the mux's pattern ("POST /admin/tenants/{id}/retry"), and every wildcard's
// path parameter, decoded.
func routed(req *events.APIGatewayV2HTTPRequest, r *http.Request) {
	if r.Pattern == "" {
		return
	}
	req.RouteKey = r.Pattern
	req.RequestContext.RouteKey = r.Pattern
	for seg := range strings.SplitSeq(r.Pattern, "/") {
		name, ok := strings.CutPrefix(seg, "{")
		name, closed := strings.CutSuffix(name, "}")
		name = strings.TrimSuffix(name, "...")
		if !ok || !closed || name == "$" {
			continue
		}
		if req.PathParameters == nil {
			req.PathParameters = map[string]string{}
		}
		req.PathParameters[name] = r.PathValue(name)
	}
}

// maxHTTPBody is API Gateway's payload limit; the handlers apply their own, smaller ones.
const maxHTTPBody = 10 << 20

// Claims returns the verified JWT of a request, as API Gateway's JWT authorizer would pass it
// on, or nil (or an error) when the request has none; the handler then answers 401.
type Claims func(r *http.Request) (*events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, error)

// ToHTTP serves a route handler over net/http, building the payload 2.0 event API Gateway
// would: method, raw path and query, query parameters (repeated ones joined with commas),
// lower-cased headers, cookies, the body (base64 when it is not UTF-8), a request id, the
// JWT from claims and, when a ServeMux pattern ("GET /admin/tenants/{id}") matched the
// request, that pattern as the route key and its wildcards' values, decoded, as the path
// parameters. It is for local servers and tests; in AWS, API Gateway does this.
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
	routed(&req, r)
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
