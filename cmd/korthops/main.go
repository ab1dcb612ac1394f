// Command korthops scaffolds, validates and bootstraps Flux repositories that run Orthanc on
// Kubernetes. This package only parses flags and calls the packages that do the work.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/korthops/korthops/validate"
)

// exitError carries a process exit code through cobra. Errors without one exit 1; usage errors 2.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	// The user's own GOGC or GOMEMLIMIT wins.
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		validate.TuneGC()
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr *os.File) int {
	cmd := newRootCmd(stdout, stderr)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return 0
	}
	if !silent(err) {
		fmt.Fprintln(stderr, "error:", err)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// silentError marks an error already reported in full on stdout (e.g. validation findings).
type silentError struct{ error }

func silent(err error) bool {
	var s silentError
	return errors.As(err, &s)
}
