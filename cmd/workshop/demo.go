package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
)

// demo runs the step's solution with its demo command, which starts the system, places
// an order and prints what happened.
func (w *workshop) demo(ctx context.Context, s step) error {
	fmt.Fprintf(w.out, "go run ./solutions/%s demo\n", s.Name)
	cmd := exec.CommandContext(ctx, "go", "run", "./solutions/"+s.Name, "demo")
	cmd.Dir = w.root
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("demo of %s: %w", s.Name, err)
	}
	return nil
}
