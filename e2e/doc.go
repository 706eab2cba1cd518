// Package e2e holds the end-to-end tests: every traced step's services as three OS
// processes, exporting to a real Jaeger v2 built from its Go module (tools/jaeger), each
// order's trace read back from Jaeger's query API. They build with the e2e tag, so
// `make test` does not run them: `make e2e` does.
package e2e
