// Command layers sums a step's CPU or allocation profile by layer: what `workshop load
// -profile` wrote, per order. benchmarks/README.md ("Nothing sampled: where 06's
// difference goes, layer by layer") uses it to charge each layer its CPU and its bytes.
//
//	go run ./benchmarks/layers -orders N [-reserved M] PROFILE[,PROFILE...]
//
// Each sample is charged to the innermost frame of a layer that asked for the work:
// otelmux, otelhttp, redisotel, nethttp (OpenTracing's), the step's own code (package
// main), shared/, gorilla/mux, go-redis, amqp091. The standard library, the runtime and
// the tracers themselves (OTel's API and SDK, opentracing-go, jaeger-client) are charged
// to the layer that called them: an SDK span started by otelmux is otelmux's. A stack
// with no such frame is the runtime's (garbage collection's background work, the
// scheduler), a tracer's own goroutine (batching, export), or the standard library's
// (net/http's connection goroutines). For a CPU profile, "alloc" is the part of a
// layer's CPU under runtime.mallocgc. -reserved scales the consumer's samples (those
// under broker.(*Rabbit).consume) to the orders stock reserved in the window, when it
// fell behind the orders accepted.
//
// With -instrumentation REGEXP it answers a narrower question, the share of the
// process that is instrumentation, for the lower bound in the README: each sample is
// charged to the innermost frame outside the standard library and the runtime (the
// tracers not passed through this time); it is instrumentation when that frame matches
// REGEXP, the workshop's own (package main, shared/) or a library's, and application
// otherwise; a sample without such a frame is garbage collection's or the runtime's.
// The expressions the README uses:
//
//	06: go\.opentelemetry\.io|httpsnoop|go-redis/extra|TracedRabbitBroker|amqpHeadersCarrier|messageAttributes|Destination|joinNonEmpty|traceResponse|edge\.|recordError
//	03: jaeger|opentracing|otredis|TracedRabbitBroker|amqpHeadersCarrier|messageTags|traceResponse|traceresponse|serverSpans|main\.route
//
// With -split, each layer's CPU is split further: the collector's work done in its
// goroutines (assists, write barriers), malloc, syscalls, and the rest.
//
// (03's callCheckout is left out: it is the innermost frame of the whole HTTP call, whose
// own tracing calls are jaeger-client's frames.)
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// layers, in the order they are tried on a frame's function name.
var layers = []struct {
	name   string
	re     *regexp.Regexp
	tracer bool // charged to its caller
}{
	{"otelmux", regexp.MustCompile(`otelmux|felixge/httpsnoop`), false},
	{"otelhttp", regexp.MustCompile(`otelhttp`), false},
	{"redisotel", regexp.MustCompile(`go-redis/extra`), false},
	{"nethttp (OpenTracing)", regexp.MustCompile(`opentracing-contrib`), false},
	{"OTel API/SDK", regexp.MustCompile(`^go\.opentelemetry\.io/otel`), true},
	{"jaeger-client", regexp.MustCompile(`uber/jaeger-client-go|opentracing/opentracing-go`), true},
	{"step's code", regexp.MustCompile(`^main\.`), false},
	{"shared/", regexp.MustCompile(`^github\.com/ot2otel/`), false},
	{"gorilla/mux", regexp.MustCompile(`^github\.com/gorilla/mux`), false},
	{"go-redis", regexp.MustCompile(`^github\.com/redis/go-redis`), false},
	{"amqp091", regexp.MustCompile(`^github\.com/rabbitmq/amqp091`), false},
	{"other module", regexp.MustCompile(`^[a-z0-9-]+\.[a-z]+/`), false},
}

// sample is one stack of `go tool pprof -traces` and its value (µs or bytes).
type sample struct {
	value  float64
	frames []string // innermost first
}

var units = map[string]float64{"ns": 1e-3, "us": 1, "µs": 1, "ms": 1e3, "s": 1e6,
	"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "": 1}

var valueLine = regexp.MustCompile(`^\s+([0-9.]+)(ns|us|µs|ms|s|B|kB|MB|GB)?\s+(\S+)`)

// parseTraces reads `go tool pprof -traces` output.
func parseTraces(out []byte) []sample {
	var samples []sample
	for _, block := range strings.Split(string(out), "-----------+-------------------------------------------------------") {
		var s *sample
		sc := bufio.NewScanner(strings.NewReader(block))
		for sc.Scan() {
			line := sc.Text()
			if strings.TrimSpace(line) == "" || strings.Contains(line, "bytes:") {
				continue
			}
			if s == nil {
				m := valueLine.FindStringSubmatch(line)
				if m == nil {
					break
				}
				v, _ := strconv.ParseFloat(m[1], 64)
				s = &sample{value: v * units[m[2]], frames: []string{m[3]}}
				continue
			}
			s.frames = append(s.frames, strings.Fields(line)[0])
		}
		if s != nil {
			samples = append(samples, *s)
		}
	}
	return samples
}

// layerOf names the layer a sample is charged to.
func layerOf(frames []string) string {
	tracer := false
	for _, f := range frames {
		for _, l := range layers {
			if l.re.MatchString(f) {
				if !l.tracer {
					return l.name
				}
				tracer = true
				break
			}
		}
	}
	all := strings.Join(frames, " ")
	switch {
	case strings.Contains(all, "runtime.gcBgMarkWorker"):
		return "runtime: GC background mark"
	case strings.Contains(all, "runtime.bgsweep"), strings.Contains(all, "runtime.bgscavenge"):
		return "runtime: GC sweep, scavenge"
	case tracer:
		return "tracer's own goroutines"
	case strings.Contains(all, "runtime.mcall"), strings.Contains(all, "runtime.schedule"):
		return "runtime: scheduler"
	}
	return "standard library: " + pkgOf(frames[len(frames)-1])
}

// instrumentationOf is -instrumentation's charge: the innermost frame outside the
// standard library and the runtime decides.
func instrumentationOf(frames []string, instr *regexp.Regexp) string {
	for _, f := range frames {
		if stdlib(f) {
			continue
		}
		switch {
		case !instr.MatchString(f):
			return "application"
		case strings.HasPrefix(f, "main.") || strings.HasPrefix(f, "github.com/ot2otel/"):
			return "instrumentation: the workshop's"
		default:
			return "instrumentation: libraries"
		}
	}
	all := strings.Join(frames, " ")
	if strings.Contains(all, "runtime.gcBgMarkWorker") || strings.Contains(all, "runtime.bgsweep") || strings.Contains(all, "runtime.bgscavenge") {
		return "garbage collection"
	}
	return "runtime, standard library only"
}

// workOf is -split's suffix: what kind of work a CPU sample is, whichever layer asked
// for it. A goroutine that allocates while the collector runs helps it mark (assists) and
// pays write barriers: work a process does for its garbage that its own frames show.
func workOf(frames []string) string {
	all := strings.Join(frames, " ")
	switch {
	case strings.Contains(all, "runtime.gcAssistAlloc"), strings.Contains(all, "runtime.wbBuf"),
		strings.Contains(all, "runtime.gcWriteBarrier"), strings.Contains(all, "runtime.bulkBarrier"):
		return ": GC assists, write barriers"
	case strings.Contains(all, "runtime.mallocgc"):
		return ": malloc"
	case strings.Contains(frames[0], "Syscall"):
		return ": syscalls"
	}
	return ""
}

// stdlib reports whether fn is the standard library's or the runtime's: its package
// path's first element has no dot.
func stdlib(fn string) bool {
	if strings.HasPrefix(fn, "main.") {
		return false
	}
	first, _, _ := strings.Cut(fn, "/")
	return !strings.Contains(fn, "/") || !strings.Contains(first, ".")
}

// pkgOf is the package path of a function's name: up to the first dot after the last
// slash ("net/http" of "net/http.(*conn).serve").
func pkgOf(fn string) string {
	slash := strings.LastIndex(fn, "/") + 1
	if dot := strings.Index(fn[slash:], "."); dot >= 0 {
		return fn[:slash+dot]
	}
	return fn
}

func main() {
	orders := flag.Float64("orders", 0, "orders answered in the profiles' windows (workshop load's 'reserved M/N': N)")
	reserved := flag.Float64("reserved", 0, "orders stock reserved in the windows ('reserved M/N': M); 0: the same as -orders")
	instr := flag.String("instrumentation", "", "REGEXP: split the samples into instrumentation (innermost frame outside the standard library matches) and the rest")
	split := flag.Bool("split", false, "split each layer's CPU into the collector's work in its goroutines (assists, write barriers), malloc, syscalls and the rest")
	index := flag.String("sample_index", "", "pprof's -sample_index: alloc_space or alloc_objects for an allocation profile")
	flag.Parse()
	if *orders <= 0 || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: layers -orders N [-reserved M] [-sample_index alloc_space] PROFILE[,PROFILE...]")
		os.Exit(2)
	}
	args := []string{"tool", "pprof", "-traces"}
	if *index != "" {
		args = append(args, "-sample_index="+*index)
	}
	out, err := exec.Command("go", append(args, strings.Split(flag.Arg(0), ",")...)...).Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go tool pprof:", err)
		os.Exit(1)
	}
	total, alloc := map[string]float64{}, map[string]float64{}
	for _, s := range parseTraces(out) {
		v := s.value
		if *reserved > 0 && strings.Contains(strings.Join(s.frames, " "), "broker.(*Rabbit).consume") {
			v *= *orders / *reserved
		}
		l := layerOf(s.frames)
		if *instr != "" {
			l = instrumentationOf(s.frames, regexp.MustCompile(*instr))
		}
		if *split && l != "garbage collection" {
			l += workOf(s.frames)
		}
		total[l] += v
		if strings.Contains(strings.Join(s.frames, " "), "runtime.mallocgc") {
			alloc[l] += v
		}
	}
	names := make([]string, 0, len(total))
	sum, sumAlloc := 0.0, 0.0
	for l, v := range total {
		names = append(names, l)
		sum += v
		sumAlloc += alloc[l]
	}
	sort.Slice(names, func(i, j int) bool { return total[names[i]] > total[names[j]] })
	unit := "µs"
	if *index != "" {
		unit = strings.TrimPrefix(*index, "alloc_")
	}
	fmt.Printf("%-32s %10s %6s %12s\n", "per order", unit, "share", "under malloc")
	for _, l := range append(names, "total") {
		v, a := total[l], alloc[l]
		if l == "total" {
			v, a = sum, sumAlloc
		}
		fmt.Printf("%-32s %10.1f %5.1f%% %12.1f\n", l, v / *orders, 100*v/sum, a / *orders)
	}
}
