package demo

import (
	"context"
	"io"
	"os"

	"github.com/ot2otel/workshop/shared/fleet"
)

// ExportEnv returns run with the named variables of its getenv copied into the process
// environment before it starts, for tracers that their library configures from the
// process environment only: jaeger-client's config.FromEnv reads JAEGER_*, the OTel
// exporters read OTEL_*. Run hands the address of its in-process receiver to run through
// getenv, which such a tracer never sees. Use it for the demo, which owns its process:
//
//	demo.Run(ctx, demo.ExportEnv(run, "JAEGER_ENDPOINT"), getenv, stdout, jaegerspans.NewReceiver)
func ExportEnv(run fleet.RunFunc, keys ...string) fleet.RunFunc {
	return func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
		for _, k := range keys {
			if v := getenv(k); v != "" {
				if err := os.Setenv(k, v); err != nil {
					return err
				}
			}
		}
		return run(ctx, args, getenv, stdout)
	}
}
