package app

import (
	"io"
	"log/slog"
)

// NewLogger returns the process's logger: text for people, JSON (LOG_FORMAT=json) for
// machines and for the tests that read the logs.
func NewLogger(w io.Writer, cfg Config) *slog.Logger {
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
