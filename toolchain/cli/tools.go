//go:build tools

// Package tools pins the Go commands this wrapper module builds.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
