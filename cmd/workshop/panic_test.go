package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPanicTODO(t *testing.T) {
	dir := t.TempDir()
	src := "package main\n\n// TODO(03.1): inject\nfunc a() {}\n\n// TODO(03.2): read string and []byte values\nfunc get(v any) string {\n\treturn v.(string)\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "broker.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := "--- FAIL: TestCarrier (0.00s)\npanic: interface conversion: interface {} is []uint8, not string [recovered]\n\n" +
		"goroutine 7 [running]:\ntesting.tRunner.func1.2({0x1, 0x2})\n\t/usr/lib/go/src/testing/testing.go:1734 +0x21c\n" +
		"main.get(...)\n\t" + filepath.Join(dir, "broker.go") + ":8 +0x1c\n" +
		"main.TestCarrier(0xc000)\n\t" + filepath.Join(dir, "broker_test.go") + ":40 +0x1c\n"
	todo, where := panicTODO(strings.SplitAfter(out, "\n"), dir, "03")
	if todo != "TODO(03.2)" || where != "broker.go:8" {
		t.Errorf("panicTODO = %q at %q, want TODO(03.2) at broker.go:8", todo, where)
	}
	if todo, _ := panicTODO([]string{"--- FAIL: TestX\n", "    x_test.go:3: wrong\n"}, dir, "03"); todo != "" {
		t.Errorf("panicTODO of a failure without a panic = %q, want none", todo)
	}
}
