// Command workshop runs the workshop's chores: list the steps, check an attendee's step,
// run a demo, and keep every step's starting code in sync with its solution.
//
// A step's starting code (steps/NN-name) is generated: it is the solution
// (solutions/NN-name) with the exercise patch (exercises/NN-name.diff) applied, which puts
// the "before" code and the TODO(NN.k) markers back. `sync` regenerates the steps,
// `sync -check` fails when one is stale, `capture` records a hand-edited step as its
// patch, and `verify` checks every exercise is real: the step compiles, its exercise
// tests fail and name its TODOs, and every TODO is named by a failing test.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ot2otel/workshop/shared/tracecheck"
)

const usage = `usage: workshop COMMAND [ARGS]

For attendees:
  list               list the steps and their tasks
  check NN           run step NN's tests and say what is still to do
  reset NN           put step NN back to its starting code (yours is kept first in
                     .workshop/backup/NN-name/TIME)
  demo [-step] [NN]  run solution NN (default: the last step), place an order, show the
                     trace; -step runs your steps/NN instead; -out-of-stock orders more
                     than stock holds; -svg DIR draws the trace as an SVG (make slides-traces)
  trace ID | --last  draw a trace from Jaeger's query API ($JAEGER_QUERY_URL, -query URL;
                     default http://localhost:16686); --last: the newest order's trace
  restock [-forget]  put stock's ledger in Redis back to the catalogue, nothing reserved
                     (REDIS_URL, AMQP_EXCHANGE, AMQP_QUEUE, STOCK_QUANTITY as stock reads
                     them); -forget also forgets the orders it remembers

For facilitators:
  diff [-all] NN MM  the migration from solution NN to MM, without tests, READMEs and go.sum
                     (-all keeps them; coloured on a terminal unless NO_COLOR is set)

For maintainers:
  sync [-check]      regenerate steps/ from solutions/ and exercises/ (-check: fail if stale)
  capture NN         record steps/NN as the exercise patch exercises/NN-name.diff
  verify [NN]        check that each step compiles and fails, naming its TODOs
  load [flags] [NN]  measure orders/s, latency, CPU and memory of the steps under load

Run it from the repository root: go run ./cmd/workshop COMMAND`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "workshop:", err)
		}
		os.Exit(1)
	}
}

// errReported is a failure whose details were already printed.
var errReported = errors.New("failed")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	if args[0] == "trace" {
		// Needs Jaeger, not the repository: it works from anywhere.
		return trace(ctx, args[1:], os.Getenv, stdout, tracecheck.IsTerminal(stdout))
	}
	if args[0] == "restock" {
		// Needs Redis, not the repository.
		return restock(ctx, args[1:], os.Getenv, stdout)
	}
	root, err := findRoot()
	if err != nil {
		return err
	}
	w := &workshop{root: root, out: stdout, errOut: stderr, color: tracecheck.IsTerminal(stdout)}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "list":
		return w.list()
	case "check":
		s, err := w.stepArg(rest)
		if err != nil {
			return err
		}
		return w.check(ctx, s)
	case "reset":
		s, err := w.stepArg(rest)
		if err != nil {
			return err
		}
		return w.reset(s)
	case "demo":
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		fromStep := fs.Bool("step", false, "run your step (steps/NN) rather than its solution")
		var opt demoOptions
		fs.BoolVar(&opt.outOfStock, "out-of-stock", false, "order more than stock holds: the trace of an order stock cannot fill")
		fs.StringVar(&opt.svgDir, "svg", "", "also draw the order's trace as an SVG waterfall, with its normalised record, in this directory")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		steps, err := w.steps()
		if err != nil {
			return err
		}
		s := steps[len(steps)-1]
		if fs.NArg() > 0 {
			if s, err = w.stepArg(fs.Args()); err != nil {
				return err
			}
		}
		return w.demo(ctx, s, *fromStep, opt)
	case "diff":
		return w.diffCmd(rest)
	case "sync":
		fs := flag.NewFlagSet("sync", flag.ContinueOnError)
		check := fs.Bool("check", false, "fail if a step is stale instead of regenerating it")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		steps, err := w.stepsArg(fs.Args())
		if err != nil {
			return err
		}
		var errs []error
		for _, s := range steps {
			errs = append(errs, w.sync(s, *check))
		}
		return errors.Join(errs...)
	case "capture":
		s, err := w.stepArg(rest)
		if err != nil {
			return err
		}
		return w.capture(s)
	case "verify":
		steps, err := w.stepsArg(rest)
		if err != nil {
			return err
		}
		return w.verify(ctx, steps)
	case "load":
		o, err := w.parseLoad(rest)
		if err != nil {
			return err
		}
		return w.load(ctx, o)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}
