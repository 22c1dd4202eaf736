// Package lambdaapi serves functions over the Lambda Invoke API that `sam local
// start-lambda` offers (POST /2015-03-31/functions/{name}/invocations), so AWS Step
// Functions Local, LocalStack, the aws CLI or any SDK client can drive them locally.
package lambdaapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
)

// maxPayload is Lambda's limit for a synchronous invocation's request.
const maxPayload = 6 << 20

// Server routes invocations to handlers by function name.
type Server struct {
	functions map[string]lambda.Handler
	log       *slog.Logger
}

// New serves functions, addressed by the keys of the map (SAM logical ids).
func New(functions map[string]lambda.Handler, log *slog.Logger) *Server {
	return &Server{functions: functions, log: log}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
	name, ok2 := strings.CutSuffix(rest, "/invocations")
	if !ok || !ok2 || name == "" {
		serviceError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation "+r.Method+" "+r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		serviceError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "invocations take POST")
		return
	}
	fn := functionName(name)
	h, ok := s.functions[fn]
	if !ok {
		serviceError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+fn)
		return
	}
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		serviceError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "request payload exceeds 6 MB")
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	switch r.Header.Get("X-Amz-Invocation-Type") {
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		// Asynchronous: accepted now, run detached from the request.
		go func() { _, _ = lambdarun.Invoke(context.WithoutCancel(r.Context()), h, payload) }()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	out, ferr := lambdarun.Invoke(r.Context(), h, payload)
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	w.Header().Set("Content-Type", "application/json")
	if ferr != nil {
		s.log.InfoContext(r.Context(), "invocation failed", "function", fn, "errorType", ferr.Type)
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		_ = json.NewEncoder(w).Encode(ferr)
		return
	}
	s.log.InfoContext(r.Context(), "invocation succeeded", "function", fn)
	_, _ = w.Write(out)
}

// functionName accepts a name or a full or partial ARN
// (arn:aws:lambda:region:account:function:Name[:qualifier], account:function:Name).
func functionName(s string) string {
	parts := strings.Split(s, ":")
	for i, p := range parts {
		if p == "function" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	return s
}

// serviceError is an error of the Lambda service itself (not the function), in the shape
// the SDKs decode.
func serviceError(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", errType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}
