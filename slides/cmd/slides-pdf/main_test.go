package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ot2otel/workshop/slides/internal/show"
)

// TestPrintsOneSlideAPage prints the main deck as make slides-pdf does; run fails when
// the PDF's pages are not the deck's slides, one for one.
func TestPrintsOneSlideAPage(t *testing.T) {
	if _, err := show.FindChromium(); err != nil {
		if os.Getenv("WORKSHOP_REQUIRE_BROWSER") == "1" {
			t.Fatalf("WORKSHOP_REQUIRE_BROWSER=1 and %v", err)
		}
		t.Skipf("skipped: %v; set WORKSHOP_REQUIRE_BROWSER=1 to make this a failure", err)
	}
	t.Chdir("../..") // the slides module, where make slides-pdf runs it
	out := filepath.Join(t.TempDir(), "workshop.pdf")
	var log bytes.Buffer
	if err := run([]string{"-o", out, "workshop.slide"}, &log); err != nil {
		t.Fatal(err)
	}
	pdf, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pageRE.FindAll(pdf, -1)) < 40 {
		t.Errorf("%s is not the deck's PDF: %d bytes, %d pages", out, len(pdf), len(pageRE.FindAll(pdf, -1)))
	}
	if !strings.Contains(log.String(), "slides on") {
		t.Errorf("no summary: %q", log.String())
	}
}
