// Package frontend holds Pulse's templates, styles, scripts and vendored browser files, embedded into the binary.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed templates static
var files embed.FS

// Templates returns the html/template sources, rooted at the templates directory.
func Templates() fs.FS { return sub("templates") }

// Static returns the files served under /static (CSS, JS, vendored assets), rooted at the
// static directory.
func Static() fs.FS { return sub("static") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		// fs.Sub fails only for an invalid path; both are constants checked by go:embed.
		panic(err)
	}
	return f
}
