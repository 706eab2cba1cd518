package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
)

// demo runs the step's solution, or with fromStep the attendee's step, with its demo
// command, which starts the system, places an order and prints what happened.
func (w *workshop) demo(ctx context.Context, s step, fromStep bool) error {
	dir := "./solutions/" + s.Name
	if fromStep {
		dir = "./steps/" + s.Name
	}
	fmt.Fprintf(w.out, "go run %s demo\n", dir)
	cmd := exec.CommandContext(ctx, "go", "run", dir, "demo")
	cmd.Dir = w.root
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("demo of %s: %w", s.Name, err)
	}
	return nil
}
