package api

import _ "embed"

// OpenAPI is the API's OpenAPI 3.1 document, for the local server to publish and for
// clients to generate from. Tests hold it and the handlers to each other.
//
//go:embed openapi.json
var OpenAPI []byte
