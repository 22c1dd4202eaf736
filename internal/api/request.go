package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

func isJSON(contentType string) bool {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// header looks a request header up by name. API Gateway lower-cases names in payload 2.0;
// hand-written events may not.
func header(req events.APIGatewayV2HTTPRequest, name string) string {
	if v, ok := req.Headers[name]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// requestBody returns the body, base64-decoded if API Gateway encoded it. The size is
// checked before decoding, so an oversized body is never decoded.
func requestBody(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	tooLarge := newProblem(http.StatusRequestEntityTooLarge, ProblemPayloadTooLarge, "The body must be at most 16 KiB.")
	if !req.IsBase64Encoded {
		if len(req.Body) > maxBodyBytes {
			return nil, tooLarge
		}
		return []byte(req.Body), nil
	}
	if len(req.Body) > base64.StdEncoding.EncodedLen(maxBodyBytes) {
		return nil, tooLarge
	}
	body, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, newProblem(http.StatusBadRequest, ProblemMalformedBody, "The body is marked base64-encoded but is not.")
	}
	if len(body) > maxBodyBytes {
		return nil, tooLarge
	}
	return body, nil
}

// decodeFields reads exactly one JSON object into fields (pointers to each field's
// destination), keys matched exactly and each at most once, with nothing after it. It
// deletes each key it reads from fields, so what is left there was absent. A field whose
// value does not fit its destination is reported in wrongType; ok is false for anything
// else.
func decodeFields[T any](body []byte, fields map[string]T) (wrongType []fault.FieldError, ok bool) {
	if !utf8.Valid(body) { // the decoder would turn bad bytes into U+FFFD and carry on
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := tok.(string)
		dst, known := fields[key]
		if !known {
			return nil, false
		}
		delete(fields, key) // a second occurrence is now unknown
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false
		}
		if json.Unmarshal(raw, dst) != nil {
			wrongType = append(wrongType, fault.FieldError{Field: key, Message: typeMessage(dst)})
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return wrongType, true
}

// typeMessage words what a field of dst's type must be.
func typeMessage(dst any) string {
	switch dst.(type) {
	case *bool:
		return "must be true or false"
	case *[]string:
		return "must be an array of strings"
	}
	return "must be a string"
}

// stageBase matches the path before /admin/tenants when the API is called through a named
// stage or a base path mapping (/prod/admin/tenants).
var stageBase = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)*$`)

// stagePrefix keeps the URLs it returns relative yet usable behind a named stage. A prefix
// with anything but plain path characters is dropped rather than echoed into a header.
func stagePrefix(rawPath string) string { return stagePrefixOf(rawPath, "/admin/tenants") }

// stagePrefixOf is stagePrefix for a request to route (the path without a stage).
func stagePrefixOf(rawPath, route string) string {
	p, ok := strings.CutSuffix(rawPath, route)
	if !ok || !stageBase.MatchString(p) {
		return ""
	}
	return p
}
