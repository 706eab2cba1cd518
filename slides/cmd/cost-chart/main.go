// Command cost-chart writes the cost slides' chart and sentences into img/, from the
// figures in benchmarks/ (see package cost): load.json, and load-sampled.json and
// load-unsampled.json when they exist (make load-figures writes the three), and hops.txt.
// Run it from the slides module after `workshop load` or the hop benchmark wrote new
// figures (go generate does):
//
//	go run ./cmd/cost-chart
//
// cost_test.go fails until it has run.
package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/ot2otel/workshop/slides/internal/cost"
)

func main() {
	bench := flag.String("bench", "../benchmarks", "the directory of load.json, load-sampled.json, load-unsampled.json and hops.txt")
	img := flag.String("img", "img", "the directory to write cost.svg, cost.html and hops.html in")
	flag.Parse()
	files, err := cost.Generate(*bench)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cost-chart:", err)
		os.Exit(1)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(*img, name)
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "cost-chart:", err)
			os.Exit(1)
		}
		fmt.Println("cost-chart: wrote", p)
	}
}
