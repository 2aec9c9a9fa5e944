//go:build tools

// Package tools pins the Go command this wrapper module builds: helmfile, for the benchmark only.
package tools

import (
	_ "github.com/helmfile/helmfile"
)
