package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// frame is a file:line of a goroutine's stack in a test's output.
var frame = regexp.MustCompile(`(?m)^\s+(\S+\.go):(\d+)`)

// panicTODO maps a test that panicked to the TODO of the step whose code panicked: the
// first frame of the stack in the step's own (non-test) code, and the TODO(NN.k) marker
// nearest above that line in its file, or else the file's first. It returns "" when the
// output holds no panic, or the panic is not in the step's code.
func panicTODO(dir, number, output string) (todo, where string) {
	if !strings.Contains(output, "panic: ") {
		return "", ""
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", ""
	}
	for _, m := range frame.FindAllStringSubmatch(output, -1) {
		file, line := m[1], m[2]
		if filepath.Dir(file) != abs || strings.HasSuffix(file, "_test.go") {
			continue
		}
		n, _ := strconv.Atoi(line)
		data, err := os.ReadFile(file)
		if err != nil {
			return "", ""
		}
		lines := strings.Split(string(data), "\n")
		where = filepath.Base(file) + ":" + line
		for i := min(n, len(lines)) - 1; i >= 0; i-- {
			if ids := markerIDs(lines[i], number); len(ids) > 0 {
				return ids[0], where
			}
		}
		if ids := markerIDs(string(data), number); len(ids) > 0 {
			return ids[0], where
		}
		return "", where
	}
	return "", ""
}
