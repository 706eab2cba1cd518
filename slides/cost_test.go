package slides

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ot2otel/workshop/slides/internal/cost"
)

// TestCostFiguresUpToDate fails when the cost slides' chart or sentences (img/cost.svg,
// img/cost.html, img/hops.html) are not what the committed figures in benchmarks/ make:
// after `workshop load` or the hop benchmark, run go run ./cmd/cost-chart in slides/.
func TestCostFiguresUpToDate(t *testing.T) {
	files, err := cost.Generate(filepath.Join("..", "benchmarks"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("img", name))
		if err != nil {
			t.Errorf("img/%s: %v; run (cd slides && go run ./cmd/cost-chart)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("img/%s is not what benchmarks/ makes of it: the figures changed since it was generated; run (cd slides && go run ./cmd/cost-chart) and commit it", name)
		}
	}
}
