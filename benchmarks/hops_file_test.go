package benchmarks

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// writeHops makes TestHopsFile measure the hops again and rewrite hops.txt, which the
// talk's cost slide includes: go test -run TestHopsFile ./benchmarks -hops.write
var writeHops = flag.Bool("hops.write", false, "measure the hops and rewrite hops.txt")

// hopsFile is where the measured costs go, for the slides and the README.
const hopsFile = "hops.txt"

// hopsRounds is how many times each tracer is measured, the tracers taking turns, so
// that the machine's noise falls on all three alike.
const hopsRounds = 5

type hopCost struct {
	name                  string
	ns, bytes, allocs     []float64
	medNs, medB, medAlloc float64
}

// TestHopsFile checks hops.txt has the three tracers and ratios that follow from its
// own numbers; with -hops.write it measures them first.
func TestHopsFile(t *testing.T) {
	if *writeHops {
		if err := os.WriteFile(hopsFile, []byte(measureHops(t)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(hopsFile)
	if err != nil {
		t.Fatalf("%v: run go test -run TestHopsFile ./benchmarks -hops.write", err)
	}
	rows := map[string][]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) < 30 {
			continue
		}
		var ns, b, allocs, tr, ar float64
		name := strings.TrimSpace(line[:30])
		if _, err := fmt.Sscanf(strings.ReplaceAll(line[30:], "x", ""), "%g %g %g %g %g", &ns, &b, &allocs, &tr, &ar); err == nil {
			rows[name] = []float64{ns, b, allocs, tr, ar}
		}
	}
	native, ok := rows[hopNames[2]]
	if len(rows) != 3 || !ok {
		t.Fatalf("%s has rows %v, want %q", hopsFile, rows, hopNames)
	}
	for name, r := range rows {
		if d := r[0]/native[0] - r[3]; d > 0.051 || d < -0.051 {
			t.Errorf("%s: %s's time ratio %.1fx does not follow from %g/%g ns", hopsFile, name, r[3], r[0], native[0])
		}
		if d := r[2]/native[2] - r[4]; d > 0.051 || d < -0.051 {
			t.Errorf("%s: %s's allocation ratio %.1fx does not follow from %g/%g", hopsFile, name, r[4], r[2], native[2])
		}
	}
}

// hopNames are allHops' tracers as the table names them.
var hopNames = []string{"jaeger-client-go", "OTel SDK, OpenTracing bridge", "OTel SDK, native API"}

// measureHops times the three hops of BenchmarkHop in interleaved rounds and returns
// the table of their medians.
func measureHops(t *testing.T) string {
	hops, closeHops := allHops(t)
	defer closeHops()
	costs := []*hopCost{{name: hopNames[0]}, {name: hopNames[1]}, {name: hopNames[2]}}
	for range hopsRounds {
		for i, h := range hops {
			r := testing.Benchmark(func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					h.hop()
				}
			})
			c := costs[i]
			c.ns = append(c.ns, float64(r.NsPerOp()))
			c.bytes = append(c.bytes, float64(r.AllocedBytesPerOp()))
			c.allocs = append(c.allocs, float64(r.AllocsPerOp()))
		}
	}
	for _, c := range costs {
		c.medNs, c.medB, c.medAlloc = median(c.ns), median(c.bytes), median(c.allocs)
	}
	native := costs[2]
	var sb strings.Builder
	row := "%-30s %8s %7s %11s %15s %17s\n"
	fmt.Fprintf(&sb, row, "tracer", "ns/hop", "B/hop", "allocs/hop", "time vs native", "allocs vs native")
	for _, c := range costs {
		fmt.Fprintf(&sb, row, c.name, fmt.Sprintf("%.0f", c.medNs), fmt.Sprintf("%.0f", c.medB), fmt.Sprintf("%.0f", c.medAlloc),
			fmt.Sprintf("%.1fx", c.medNs/native.medNs), fmt.Sprintf("%.1fx", c.medAlloc/native.medAlloc))
	}
	fmt.Fprintf(&sb, "\none hop: start a span, inject, extract, start a child, finish both (recorded, not exported)\n")
	fmt.Fprintf(&sb, "%d interleaved rounds, medians; %s %s/%s, %d CPUs\n", hopsRounds, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintf(&sb, "written by: go test -run TestHopsFile ./benchmarks -hops.write\n")
	return sb.String()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
