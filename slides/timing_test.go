package slides

import (
	"bufio"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/present"
)

// The deck's one source of time. The title's first note gives the whole day
// ("225 minutes in all"); a section's header slide (a slide with a title and nothing
// else) opens with "Section: N minutes"; every other slide's notes open with "N minutes"
// (or "1 minute"), the time it stays up, its exercise or demo included. A section's
// slides add up to its N; a section with no slides after its header (the break) is its
// N alone. FACILITATOR.md's agenda gives each section a row whose length, to the next
// row's start, is the section's N, plus a buffer; its last row, the end, is the title's
// total.
var (
	totalRE      = regexp.MustCompile(`^(\d+) minutes in all\b`)
	sectionRE    = regexp.MustCompile(`^Section: (\d+) minutes?\b`)
	slideTimeRE  = regexp.MustCompile(`^(\d+) minutes?\b`)
	timeBoxRE    = regexp.MustCompile(`Time box: (\d+) minutes`)
	agendaRowRE  = regexp.MustCompile(`^\|\s*(\d+):(\d\d)\s*\|([^|]*)\|([^|]*)\|`)
	stepTitleRE  = regexp.MustCompile(`^Step (\d\d): `)
	exerciseRE   = regexp.MustCompile(`^Exercise (\d\d): `)
	todoIDRE     = regexp.MustCompile(`\b(\d\d\.\d+)\b`)
	stepTodoRE   = regexp.MustCompile(`TODO\((\d\d\.\d+)\)`)
	tagRE        = regexp.MustCompile(`<[^>]*>`)
	agendaBuffer = "Buffer"
	agendaEnd    = "End"
)

// section is one section of the deck: its header and the minutes of its slides.
type section struct {
	title   string
	minutes int // what the header says
	sum     int // what its slides add up to
	slides  []present.Section
}

// deckSections reads the deck's sections and the title's total; a slide without its
// minutes is an error.
func deckSections(t *testing.T, deck string) (total int, sections []*section) {
	t.Helper()
	src, err := os.ReadFile(deck)
	if err != nil {
		t.Fatal(err)
	}
	doc, _, err := parseDeck(deck, src)
	if err != nil {
		t.Fatalf("%s does not parse: %v", deck, err)
	}
	if len(doc.TitleNotes) == 0 || totalRE.FindStringSubmatch(doc.TitleNotes[0]) == nil {
		t.Fatalf("%s: the title's first note must open with the day's length, \"N minutes in all\"", deck)
	}
	total, _ = strconv.Atoi(totalRE.FindStringSubmatch(doc.TitleNotes[0])[1])
	for _, s := range doc.Sections {
		first := ""
		if len(s.Notes) > 0 {
			first = s.Notes[0]
		}
		if len(s.Elem) == 0 {
			m := sectionRE.FindStringSubmatch(first)
			if m == nil {
				t.Errorf("%s: section %q: its first note must open with \"Section: N minutes\", not %q", deck, s.Title, first)
				continue
			}
			n, _ := strconv.Atoi(m[1])
			sections = append(sections, &section{title: s.Title, minutes: n})
			continue
		}
		m := slideTimeRE.FindStringSubmatch(first)
		switch {
		case len(sections) == 0:
			t.Errorf("%s: slide %q comes before the first section", deck, s.Title)
		case m == nil:
			t.Errorf("%s: slide %q: its first note must open with its minutes, \"N minutes\", not %q", deck, s.Title, first)
		default:
			n, _ := strconv.Atoi(m[1])
			cur := sections[len(sections)-1]
			cur.sum += n
			cur.slides = append(cur.slides, s)
		}
	}
	return total, sections
}

// agendaRow is a row of FACILITATOR.md's agenda.
type agendaRow struct {
	start   int // minutes from the start
	what    string
	section string
	line    int
}

func readAgenda(t *testing.T) []agendaRow {
	t.Helper()
	f, err := os.Open("FACILITATOR.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []agendaRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		m := agendaRowRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		h, _ := strconv.Atoi(m[1])
		mm, _ := strconv.Atoi(m[2])
		rows = append(rows, agendaRow{start: h*60 + mm, what: strings.TrimSpace(m[3]), section: strings.Trim(strings.TrimSpace(m[4]), "*_`"), line: n})
	}
	if len(rows) < 2 {
		t.Fatal("FACILITATOR.md has no agenda (rows | H:MM | what | section | attendees |)")
	}
	return rows
}

// TestOneSourceOfTime adds up the speaker notes' minutes, section by section, and holds
// them to FACILITATOR.md's agenda and to the title's total.
func TestOneSourceOfTime(t *testing.T) {
	const deck = "workshop.slide"
	total, sections := deckSections(t, deck)
	sum := 0
	for _, s := range sections {
		if len(s.slides) > 0 && s.sum != s.minutes {
			t.Errorf("%s: section %q says %d minutes, its slides' notes add up to %d", deck, s.title, s.minutes, s.sum)
		}
		sum += s.minutes
	}
	rows := readAgenda(t)
	agenda := map[string]int{}
	buffer := 0
	for i, r := range rows {
		if r.section == agendaEnd {
			if i != len(rows)-1 {
				t.Errorf("FACILITATOR.md:%d: the End row is not the agenda's last", r.line)
			}
			if r.start != total {
				t.Errorf("FACILITATOR.md:%d: the agenda ends at %d:%02d, the title's notes say %d minutes", r.line, r.start/60, r.start%60, total)
			}
			continue
		}
		if i == len(rows)-1 {
			t.Errorf("FACILITATOR.md:%d: the agenda's last row must be %q, at the end time", r.line, agendaEnd)
			continue
		}
		d := rows[i+1].start - r.start
		if d <= 0 {
			t.Errorf("FACILITATOR.md:%d: %q starts no earlier than the row after it", r.line, r.what)
		}
		if r.section == agendaBuffer {
			buffer += d
			continue
		}
		if _, dup := agenda[r.section]; dup {
			t.Errorf("FACILITATOR.md:%d: section %q has two rows", r.line, r.section)
		}
		agenda[r.section] = d
	}
	for _, s := range sections {
		d, ok := agenda[s.title]
		switch {
		case !ok:
			t.Errorf("FACILITATOR.md's agenda has no row for the deck's section %q (%d minutes): its third column names the section", s.title, s.minutes)
		case d != s.minutes:
			t.Errorf("FACILITATOR.md's agenda gives %q %d minutes, the deck's notes %d", s.title, d, s.minutes)
		}
		delete(agenda, s.title)
	}
	for name := range agenda {
		t.Errorf("FACILITATOR.md's agenda has a row for %q, which is no section of the deck (nor %q)", name, agendaBuffer)
	}
	if buffer == 0 {
		t.Errorf("FACILITATOR.md's agenda has no %q row: a room always runs late", agendaBuffer)
	}
	if sum+buffer != total {
		t.Errorf("the deck's sections add up to %d minutes and the buffer is %d: %d, the title says %d", sum, buffer, sum+buffer, total)
	}
	if total > 225 {
		t.Errorf("the day is %d minutes, more than the half-day's 3 h 45", total)
	}
	if !slices.ContainsFunc(sections, func(s *section) bool { return s.title == "Break" && s.minutes >= 10 }) {
		t.Errorf("the deck has no Break section of 10 minutes or more")
	}
	t.Logf("%s: %d sections, %d minutes, buffer %d, total %d", deck, len(sections), sum, buffer, total)
}

// slideText is the text a slide shows.
func slideText(elems []present.Elem) string {
	var b strings.Builder
	for _, e := range elems {
		switch e := e.(type) {
		case present.HTML:
			b.WriteString(html.UnescapeString(tagRE.ReplaceAllString(string(e.HTML), "")))
		case present.Text:
			b.WriteString(strings.Join(e.Lines, "\n"))
		case present.List:
			b.WriteString(strings.Join(e.Bullet, "\n"))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestExercisesNotGivenAway checks each step's section: one exercise slide that names
// the goal, every TODO of the step (as the step's code has them), the command, the time
// box (the slide's minutes) and what to do when stuck; and no slide before it shows the
// step's own solution.
func TestExercisesNotGivenAway(t *testing.T) {
	const deck = "workshop.slide"
	_, sections := deckSections(t, deck)
	includes := slideIncludes(t, deck)
	steps := 0
	for _, sec := range sections {
		m := stepTitleRE.FindStringSubmatch(sec.title)
		if m == nil {
			continue
		}
		steps++
		step := m[1]
		var exercise *present.Section
		for i := range sec.slides {
			s := &sec.slides[i]
			if em := exerciseRE.FindStringSubmatch(s.Title); em != nil {
				if exercise != nil {
					t.Errorf("%s: section %q has two exercise slides", deck, sec.title)
				}
				if em[1] != step {
					t.Errorf("%s: %q is in step %s's section", deck, s.Title, step)
				}
				exercise = s
				continue
			}
			if exercise == nil {
				for _, inc := range includes[s.Title] {
					if strings.HasPrefix(inc, "../solutions/"+step+"-") {
						t.Errorf("%s: %q shows %s before the exercise: move it after %q", deck, s.Title, inc, "Exercise "+step)
						break
					}
				}
			}
		}
		if exercise == nil {
			t.Errorf("%s: section %q has no slide titled \"Exercise %s: ...\"", deck, sec.title, step)
			continue
		}
		text := slideText(exercise.Elem)
		for _, want := range []string{"Goal", "TODOs", "make check STEP=" + step, "Time box", "Stuck?"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: %q does not say %q", deck, exercise.Title, want)
			}
		}
		mins, _ := strconv.Atoi(slideTimeRE.FindStringSubmatch(exercise.Notes[0])[1])
		if tb := timeBoxRE.FindStringSubmatch(text); tb == nil || tb[1] != strconv.Itoa(mins) {
			t.Errorf("%s: %q: its time box must be \"Time box: %d minutes\", its notes' minutes", deck, exercise.Title, mins)
		}
		var onSlide []string
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, "TODOs") {
				onSlide = append(onSlide, todoIDRE.FindAllString(line, -1)...)
			}
		}
		inCode := stepTodos(t, step)
		slices.Sort(onSlide)
		if !slices.Equal(slices.Compact(onSlide), inCode) {
			t.Errorf("%s: %q lists TODOs %v; steps/%s-* has %v", deck, exercise.Title, onSlide, step, inCode)
		}
	}
	if dirs, _ := filepath.Glob(filepath.Join("..", "steps", "[0-9][0-9]-*")); steps != len(dirs) {
		t.Errorf("%s: %d step sections (\"Step NN: ...\" headers), and steps/ has %d steps: one section per step", deck, steps, len(dirs))
	}
}

// slideIncludes maps each slide's title to the files its .code and .play lines include.
func slideIncludes(t *testing.T, deck string) map[string][]string {
	t.Helper()
	src, err := os.ReadFile(deck)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	title := ""
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "## ") {
			title = strings.TrimPrefix(line, "## ")
		}
		if m := includeRE.FindStringSubmatch(line); m != nil && (m[1] == "code" || m[1] == "play") {
			out[title] = append(out[title], m[2])
		}
	}
	return out
}

// stepTodos returns the TODO IDs in steps/NN-*'s code, sorted: what the attendee
// edits. Its tests are left out: a later step's tests name an earlier step's TODO when
// what that step built breaks (step 07's, TODO(06.1) and the others).
func stepTodos(t *testing.T, step string) []string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join("..", "steps", step+"-*"))
	if len(dirs) != 1 {
		t.Fatalf("steps/%s-*: %d directories", step, len(dirs))
	}
	var ids []string
	err := filepath.WalkDir(dirs[0], func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range stepTodoRE.FindAllStringSubmatch(string(b), -1) {
			ids = append(ids, m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}
