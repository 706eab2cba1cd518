package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// procSample is what the run looks at in the system at the edges of the window.
type procSample struct {
	cpu      time.Duration
	reserved int64
	machine  machineSample
}

// machineSample is the CPU time used so far by the processes that share the machine
// with the system under load, and by the machine as a whole.
type machineSample struct {
	rabbitmq, redis, load, busy time.Duration
}

// sampleMachine reads the CPU of RabbitMQ (beam.smp) and Redis when they run on this
// machine (0 when they run elsewhere, in a container of another host, say), of this
// process (the load's clients and the span sink), and of every CPU of the machine.
func sampleMachine() machineSample {
	m := machineSample{load: processCPU(os.Getpid()), busy: machineBusy()}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil {
			continue
		}
		switch strings.TrimSpace(string(comm)) {
		case "beam.smp":
			m.rabbitmq += processCPU(pid)
		case "redis-server":
			m.redis += processCPU(pid)
		}
	}
	return m
}

// machineBusy is the CPU time every CPU of the machine has spent other than idle or
// waiting for I/O, from /proc/stat.
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return parseBusy(line)
}

// parseBusy reads /proc/stat's "cpu" line: user, nice, system, idle, iowait, irq,
// softirq and steal, in USER_HZ; busy is all but idle and iowait (steal is included:
// it is CPU the machine wanted and its host gave to someone else).
func parseBusy(line string) time.Duration {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / clockTick
}

// cpuBudget is CPU time per order, in microseconds, by process: the system under load
// (the step's all), RabbitMQ, Redis, the load command itself (clients and span sink),
// and the whole machine (All; what is not in the others is the kernel's work for them
// and anything else running). Busy is how many of the machine's cores were busy.
type cpuBudget struct {
	System   float64 `json:"system"`
	RabbitMQ float64 `json:"rabbitmq"`
	Redis    float64 `json:"redis"`
	Load     float64 `json:"load_and_sink"`
	All      float64 `json:"machine"`
	Busy     float64 `json:"busy_cores"`
}

func (b cpuBudget) fields() [6]float64 {
	return [6]float64{b.System, b.RabbitMQ, b.Redis, b.Load, b.All, b.Busy}
}

// budget divides the CPU used between two samples by the orders done between them.
func budget(system time.Duration, before, after machineSample, orders int64, elapsed time.Duration) cpuBudget {
	if orders <= 0 || elapsed <= 0 {
		return cpuBudget{}
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(orders) }
	busy := after.busy - before.busy
	return cpuBudget{
		System: per(system), RabbitMQ: per(after.rabbitmq - before.rabbitmq), Redis: per(after.redis - before.redis),
		Load: per(after.load - before.load), All: per(busy), Busy: busy.Seconds() / elapsed.Seconds(),
	}
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on Linux.
const clockTick = 100

// processCPU is the user+system CPU time pid has used, 0 if /proc does not say.
func processCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	return parseStatCPU(string(data))
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a /proc/PID/stat line.
// The command name, field 2, is in parentheses and may contain spaces.
func parseStatCPU(stat string) time.Duration {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(stat[i+1:]) // from field 3
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+s) * time.Second / clockTick
}

// processRSS is pid's resident set in MB, 0 if /proc does not say.
func processRSS(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
