// Package slides holds the workshop's talk, in Go's present format, and the tests that
// keep it true to the code: every deck parses with golang.org/x/tools/present, every
// .code address still matches the file it points into, and every slide fits its page in
// a real headless Chromium.
package slides

// The cost slides' chart and sentences, from benchmarks/ (cost_test.go checks them).
//go:generate go run ./cmd/cost-chart
