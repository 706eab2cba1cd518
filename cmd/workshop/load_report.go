package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// summarize takes each target's median over the rounds.
func summarize(targets []string, runs []loadRun) []loadSummary {
	var out []loadSummary
	for _, t := range targets {
		var rate, p50, p99, cpu, rss, res, spans []float64
		var b [6][]float64 // the budget's fields, in order
		at := map[string][]float64{}
		s := loadSummary{Target: t}
		for _, r := range runs {
			if r.Target != t {
				continue
			}
			rate, p50, p99 = append(rate, r.Rate), append(p50, r.P50), append(p99, r.P99)
			cpu, rss, res = append(cpu, r.CPUPerOrder), append(rss, r.RSSMB), append(res, float64(r.Reserved)/r.Seconds)
			for k, v := range r.RSSAt {
				at[k] = append(at[k], v)
			}
			s.Errors += r.Errors
			s.Dropped += r.Dropped
			spans = append(spans, r.SpansPerOrder)
			for i, v := range r.Budget.fields() {
				b[i] = append(b[i], v)
			}
		}
		s.Budget = cpuBudget{median(b[0]), median(b[1]), median(b[2]), median(b[3]), median(b[4]), median(b[5])}
		s.Rate, s.P50, s.P99, s.CPUPerOrder, s.RSSMB, s.Reserved = median(rate), median(p50), median(p99), median(cpu), median(rss), median(res)
		s.SpansPerOrder = median(spans)
		if len(at) > 0 {
			s.RSSAt = map[string]float64{}
			for k, v := range at {
				s.RSSAt[k] = median(v)
			}
		}
		out = append(out, s)
	}
	return out
}

// writeReport writes the summary table, with what it was measured on and how.
func writeReport(w io.Writer, o loadOptions, sums []loadSummary, runs []loadRun) {
	fmt.Fprintf(w, "# workshop load: what an order costs, step by step\n\n")
	fmt.Fprintf(w, "date:     %s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "machine:  %s\n", machine())
	fmt.Fprintf(w, "commit:   %s\n", gitCommit(o.src))
	fmt.Fprintf(w, "command:  %s\n", o.command)
	if len(o.sampling) > 0 {
		fmt.Fprintf(w, "sampling: %s\n", strings.Join(o.sampling, " "))
	}
	if len(o.env) > 0 {
		fmt.Fprintf(w, "env:      %s\n", strings.Join(o.env, " "))
	}
	fmt.Fprintf(w, "load:     %d clients, closed loop, %s warm-up + %s measured, %d interleaved rounds; medians over the rounds\n",
		o.clients, o.warmup, o.duration, o.rounds)
	fmt.Fprintf(w, "system:   each step's `all` as a process of its own, real RabbitMQ, spans exported over HTTP to a discarding sink\n")
	fmt.Fprintf(w, "%s:  %d publishers on one confirm channel, each waiting for its own confirm, same topology, a consumer acking\n\n", rawTarget, o.clients)

	var base, raw *loadSummary
	for i := range sums {
		switch {
		case sums[i].Target == rawTarget:
			raw = &sums[i]
		case base == nil:
			base = &sums[i]
		}
	}
	// The summary is narrow enough for the talk's cost slide, which quotes it; RSS,
	// reserved orders and errors are in the rounds below.
	vs := "vs first"
	if base != nil {
		vs = "vs " + strings.SplitN(base.Target, "-", 2)[0]
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("target")
	for _, s := range sums {
		width = max(width, len(s.Target))
	}
	fmt.Fprintf(tw, "%-*s\torders/s\t%s\tof raw\tp50 ms\tp99 ms\tp99 %s\tCPU µs\tCPU %s\tspans/order\tdropped\t\n", width, "target", vs, vs, vs)
	ratio := func(a, b float64) string {
		if b == 0 || a == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	for _, s := range sums {
		vsRate, vsP99, vsCPU, ofRaw := "-", "-", "-", "-"
		if s.Target != rawTarget && base != nil {
			vsRate, vsP99, vsCPU = ratio(s.Rate, base.Rate), ratio(s.P99, base.P99), ratio(s.CPUPerOrder, base.CPUPerOrder)
		}
		if raw != nil {
			ofRaw = ratio(s.Rate, raw.Rate)
		}
		cpu := "-"
		if s.CPUPerOrder > 0 {
			cpu = fmt.Sprintf("%.0f", s.CPUPerOrder)
		}
		spans, drops := "-", "-"
		if s.Target != rawTarget {
			spans, drops = fmt.Sprintf("%.2f", s.SpansPerOrder), fmt.Sprint(s.Dropped)
		}
		fmt.Fprintf(tw, "%-*s\t%.0f\t%s\t%s\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n",
			width, s.Target, s.Rate, vsRate, ofRaw, s.P50, s.P99, vsP99, cpu, vsCPU, spans, drops)
	}
	tw.Flush()
	for _, s := range sums {
		if s.Dropped > 0 {
			fmt.Fprintf(w, "\n%s: %d spans of its sampled orders never reached the sink (see the rounds)\n", s.Target, s.Dropped)
		}
		if s.Errors > 0 {
			fmt.Fprintf(w, "\n%s: %d failed orders in its windows (see the rounds)\n", s.Target, s.Errors)
		}
		// Orders accepted faster than stock reserves them pile up in the queue: the
		// rate is then the front's, not one the whole system keeps up.
		if s.Target != rawTarget && s.Rate > 0 && s.Reserved < 0.95*s.Rate {
			fmt.Fprintf(w, "\n%s: stock reserved %.0f orders/s, %.0f %% of those accepted: it fell behind\n",
				s.Target, s.Reserved, 100*s.Reserved/s.Rate)
		}
	}
	writeBudget(w, sums, width)
	for _, s := range sums {
		if len(s.RSSAt) == 0 {
			continue
		}
		keys := make([]string, 0, len(s.RSSAt))
		for k := range s.RSSAt {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { a, _ := strconv.Atoi(keys[i]); b, _ := strconv.Atoi(keys[j]); return a < b })
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%.1f MB after %s orders", s.RSSAt[k], k))
		}
		fmt.Fprintf(w, "\nRSS of %s: %s\n", s.Target, strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "\nper round:\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\ttarget\torders/s\tspans/order\tp50 ms\tp99 ms\tCPU µs/order\tRSS MB\treserved\terrors\tspan exports\tbytes/span\tsampled orders\tspans/trace\tdropped\t")
	for _, r := range runs {
		perSpan := "-"
		if r.Spans > 0 {
			perSpan = fmt.Sprintf("%.0f", float64(r.SinkBytes)/float64(r.Spans))
		}
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.2f\t%.2f\t%.2f\t%.0f\t%.1f\t%d/%d\t%d\t%d\t%s\t%d\t%d\t%d\t\n", r.Round, r.Target, r.Rate, r.SpansPerOrder, r.P50, r.P99, r.CPUPerOrder, r.RSSMB, r.Reserved, r.Orders, r.Errors, r.SinkRequests, perSpan, r.SampledOrders, r.SpansPerTrace, r.Dropped)
	}
	tw.Flush()
}

// writeBudget says where the machine's CPU went, per order: the system's share is what
// tracing can change, the rest (RabbitMQ, Redis, the load itself, the kernel's work for
// them) is the same for every step.
func writeBudget(w io.Writer, sums []loadSummary, width int) {
	fmt.Fprintf(w, "\nCPU µs per order, by process (medians); other: the kernel's and anything else's, 0 when the\nsamples, taken a moment apart, leave less:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tsystem\trabbitmq\tredis\tload+sink\tother\tmachine\tbusy cores\t\n", width, "target")
	num := func(v float64) string {
		if v <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f", v)
	}
	for _, s := range sums {
		b := s.Budget
		if b.All <= 0 {
			continue
		}
		other := max(0, b.All-b.System-b.RabbitMQ-b.Redis-b.Load)
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%.2f\t\n", width, s.Target,
			num(b.System), num(b.RabbitMQ), num(b.Redis), num(b.Load), other, num(b.All), b.Busy)
	}
	tw.Flush()
}

// percentileMS is the q-quantile of lats in milliseconds (nearest rank); it sorts lats.
func percentileMS(lats []time.Duration, q float64) float64 {
	if len(lats) == 0 {
		return 0
	}
	slices.Sort(lats)
	i := int(math.Ceil(q*float64(len(lats)))) - 1
	i = max(0, min(i, len(lats)-1))
	return float64(lats[i].Microseconds()) / 1000
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// machine describes where the load ran.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d cores (%s), %s/%s, %s, host %s", model, runtime.NumCPU(), "shared", runtime.GOOS, runtime.GOARCH, runtime.Version(), host)
}

func gitCommit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "describe", "--always", "--dirty").Output()
	if err != nil {
		if data, err := os.ReadFile(filepath.Join(dir, "COMMIT")); err == nil {
			return strings.TrimSpace(string(data))
		}
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
