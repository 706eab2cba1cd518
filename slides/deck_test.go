package slides

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/tools/present"
)

// maxCodeLines and maxCodeColumns are the most code a slide shows at the deck's projector
// size (img/style.html: 30 px code on a 1240×740 slide, 24.6 px on a 1024×768 projector):
// more runs off the page or wraps. A tab counts as present draws it, four columns.
const (
	maxCodeLines   = 14
	maxCodeColumns = 72
)

// decks lists the decks in this directory.
func decks(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob("*.slide")
	if err != nil || len(names) == 0 {
		t.Fatalf("no decks (*.slide) in slides/: %v", err)
	}
	return names
}

// parseDeck parses a deck as present does, with the files its .code, .play and .image
// lines name read relative to the deck, and returns the files it read.
func parseDeck(name string, src []byte) (*present.Doc, []string, error) {
	var read []string
	ctx := present.Context{ReadFile: func(filename string) ([]byte, error) {
		read = append(read, filename)
		return os.ReadFile(filename)
	}}
	doc, err := ctx.Parse(bytes.NewReader(src), name, 0)
	return doc, read, err
}

// includeRE matches a line that includes a file: .code, .play, .image, .html.
var includeRE = regexp.MustCompile(`^\.(code|play|image|html|iframe)\s+(?:-\w+\s+)*(\S+)(.*)$`)

// TestCodeAddressesMatch parses every .code and .play line of every deck on its own, so
// that one broken address does not hide the next: a function renamed or moved in a
// solution fails here, with the deck, the line and the address.
func TestCodeAddressesMatch(t *testing.T) {
	for _, deck := range decks(t) {
		src, err := os.ReadFile(deck)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(src), "\n") {
			m := includeRE.FindStringSubmatch(line)
			if m == nil || (m[1] != "code" && m[1] != "play") {
				continue
			}
			if err := checkInclude(deck, n+1, line); err != nil {
				t.Errorf("%s:%d: %s\n\t%v", deck, n+1, line, err)
			}
		}
	}
}

// checkInclude parses, as deck, a deck whose line lineNo is line and which has nothing
// else but a title and one slide, so that present's error names the deck's real line.
func checkInclude(deck string, lineNo int, line string) error {
	const head = "# check\n\n## slide\n"
	doc := head + strings.Repeat("\n", max(lineNo-4, 0)) + line + "\n"
	_, _, err := parseDeck(deck, []byte(doc))
	return err
}

// TestABrokenAddressIsReported makes sure the check above can fail: a deck pointing at a
// function that does not exist is an error naming the deck, the line and the address.
func TestABrokenAddressIsReported(t *testing.T) {
	line := ".code ../solutions/03-traced-rabbit-broker/broker.go /^func \\(t \\*TracedRabbitBroker\\) Renamed/,/^}/"
	err := checkInclude("workshop.slide", 42, line)
	if err == nil {
		t.Fatal("an address that matches nothing parsed")
	}
	for _, want := range []string{"workshop.slide:42", "Renamed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestDecksParse parses each deck whole, as present serves it, and checks what a
// facilitator relies on: speaker notes on every slide, no slide with more code than fits,
// and code only from the places the tests keep true.
func TestDecksParse(t *testing.T) {
	allowed := []string{"../solutions/", "../steps/", "../exercises/", "talk/", "img/", "../benchmarks/", "../shared/"}
	for _, deck := range decks(t) {
		src, err := os.ReadFile(deck)
		if err != nil {
			t.Fatal(err)
		}
		doc, read, err := parseDeck(deck, src)
		if err != nil {
			t.Errorf("%s does not parse: %v", deck, err)
			continue
		}
		if len(doc.Sections) == 0 {
			t.Errorf("%s has no slides", deck)
		}
		for _, f := range read {
			ok := false
			for _, a := range allowed {
				ok = ok || strings.HasPrefix(filepath.ToSlash(f), a)
			}
			if !ok {
				t.Errorf("%s includes %s: code comes from solutions/, steps/, exercises/, shared/, talk/ or benchmarks/, images from img/", deck, f)
			}
		}
		for _, s := range doc.Sections {
			where := fmt.Sprintf("%s: slide %d %q", deck, s.Number[0], s.Title)
			if len(s.Notes) == 0 {
				t.Errorf("%s has no speaker notes (': ' lines)", where)
			}
			if n := codeLines(s.Elem); n > maxCodeLines {
				t.Errorf("%s shows %d lines of code, more than the %d that fit: narrow the address or split the slide", where, n, maxCodeLines)
			}
			for _, l := range wideLines(s.Elem) {
				t.Errorf("%s: a code line is %d columns, more than the %d that fit at 30 px: show a narrower excerpt\n\t%s", where, len([]rune(l)), maxCodeColumns, l)
			}
		}
	}
}

// codeLines counts the lines of code the elements show.
func codeLines(elems []present.Elem) int {
	n := 0
	for _, e := range elems {
		if c, ok := e.(present.Code); ok {
			n += strings.Count(string(c.Text), "<span num=")
		}
	}
	return n
}

// wideLines returns the lines of code, tabs expanded as present does, wider than
// maxCodeColumns.
func wideLines(elems []present.Elem) []string {
	var wide []string
	for _, e := range elems {
		c, ok := e.(present.Code)
		if !ok {
			continue
		}
		for _, l := range strings.Split(strings.TrimRight(string(c.Raw), "\n"), "\n") {
			l = strings.ReplaceAll(l, "\t", "    ")
			if len([]rune(l)) > maxCodeColumns {
				wide = append(wide, l)
			}
		}
	}
	return wide
}

// TestNoCopiedCode fails on a code block typed into a deck: code comes in through .code.
// An indented block may show shell commands to type, and nothing else.
func TestNoCopiedCode(t *testing.T) {
	shell := regexp.MustCompile(`^(go|make|cd|docker|curl|export|open) `)
	for _, deck := range decks(t) {
		f, err := os.Open(deck)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			indented := strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "    ")
			if strings.HasPrefix(line, "```") || indented && !shell.MatchString(strings.TrimSpace(line)) {
				t.Errorf("%s:%d: code typed into the deck (%q): include it with .code from the repository", deck, n, line)
			}
		}
		f.Close()
	}
}
