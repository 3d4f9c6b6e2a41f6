package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDoc describes every route under /api/v1. A test compares it with
// the route table, so a route cannot be added without documenting it.
//
//go:embed openapi.yaml
var openAPIDoc []byte

// OpenAPIDocument returns the OpenAPI 3 document of /api/v1 (YAML).
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDoc...) }

func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml; charset=utf-8", openAPIDoc)
}
