package api

import (
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/pulse-survey/pulse/survey"
)

// renderer holds one template set per page: the layout plus the page.
type renderer struct {
	pages map[string]*template.Template
}

func newRenderer(fsys fs.FS, funcs template.FuncMap) (*renderer, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, "layout.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	names, err := fs.Glob(fsys, "*.html")
	if err != nil {
		return nil, err
	}
	r := &renderer{pages: map[string]*template.Template{}}
	for _, name := range names {
		if name == "layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return r, nil
}

// Render implements echo.Renderer.
func (r *renderer) Render(w io.Writer, name string, data any, c echo.Context) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	return t.ExecuteTemplate(w, "layout.html", data)
}

// pageData is what every page template receives.
type pageData struct {
	Title     string
	Principal *survey.Principal
	CSRF      string
	Path      string
	Demo      bool
	Version   string
	Data      any
}

func (s *Server) page(c echo.Context, title string, data any) pageData {
	tok, _ := c.Get("csrf").(string)
	return pageData{Title: title, Principal: principal(c), CSRF: tok, Path: c.Request().URL.Path,
		Demo: s.deps.Demo, Version: s.deps.Version, Data: data}
}

func (s *Server) templateFuncs() template.FuncMap {
	return template.FuncMap{
		// asset links a static file with its content hash for caching.
		"asset": func(p string) string {
			p = strings.TrimPrefix(path.Clean(p), "/")
			if h, ok := s.assets[p]; ok {
				return "/static/" + p + "?v=" + h
			}
			return "/static/" + p
		},
		"dimensionLabel": survey.DimensionLabel,
		"facetLabel":     survey.FacetLabel,
		"add":            func(a, b int) int { return a + b },
		"mul2":           func(a int) int { return 2 * a },
		"abs":            math.Abs,
		"pct":            func(x float64) float64 { return 100 * x },
		"distBars":       distBars,
		"baseURL":        func() string { return s.deps.BaseURL },
	}
}

// distBar is one segment of an answer distribution drawn as SVG rects
// (attributes, not inline styles, so the CSP holds).
type distBar struct {
	X, W float64
	V    int
}

func distBars(pct [5]float64) []distBar {
	var out []distBar
	x := 0.0
	for i, p := range pct {
		if p > 0 {
			out = append(out, distBar{X: x, W: p, V: i + 1})
		}
		x += p
	}
	return out
}
