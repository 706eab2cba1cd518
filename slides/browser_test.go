package slides

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ot2otel/workshop/slides/internal/show"
)

// slideReport is what the page says about the current slide.
type slideReport struct {
	Overflow []string `json:"overflow"`
	Broken   []string `json:"broken"`
	Small    []string `json:"small"`
}

// minCodePx is the smallest code a projector may show, in device pixels: readable from
// the back of a room.
const minCodePx = 24

// viewports are the projectors the deck is checked on: present scales a slide down to
// fit a window smaller than 1250×750 (at 1024×768 by 0.8192) and never up.
var viewports = []struct{ w, h int64 }{{1024, 768}, {1920, 1080}}

// checkSlide finds what does not fit the current slide: content taller or wider than the
// page, a code block wider than its box, an element that reaches into the page's margin
// (where the page number is), and images that did not load.
//
// It also measures the code as the projector shows it: each block's computed font size
// times the scale present applied to the slide must be minCodePx or more, no line of
// code may wrap, and a slide with code from the repository (a .code line: its lines carry
// a num attribute) highlights its key line (a .code after .html img/key.html).
const checkSlide = `((minPx) => {
  const a = document.querySelector('section.slides > article.current');
  const r = a.getBoundingClientRect();
  const out = [], broken = [], small = [];
  const scale = r.width / a.offsetWidth;
  for (const pre of a.querySelectorAll('pre')) {
    if (pre.offsetParent === null) continue;
    // The smallest text in the block: an indented block is a <code> inside the <pre>.
    let px = Infinity;
    for (const e of [pre, ...pre.querySelectorAll('*')]) {
      if ([...e.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '')) px = Math.min(px, parseFloat(getComputedStyle(e).fontSize) * scale);
    }
    const what = 'code "' + pre.textContent.trim().slice(0, 40) + '"';
    if (px < minPx - 0.01) small.push(what + ' is ' + px.toFixed(1) + ' px on screen, less than ' + minPx);
    for (const line of pre.querySelectorAll('span[num]')) {
      if (line.getClientRects().length > 1) small.push(what + ': line ' + line.getAttribute('num') + ' wraps: "' + line.textContent.trim().slice(0, 60) + '"');
    }
  }
  if (a.querySelector('pre span[num]') && !a.querySelector('i.key + div.code pre')) small.push('code without a highlighted key line (.html img/key.html before its .code)');
  if (a.scrollHeight > a.clientHeight + 1) out.push('content is ' + a.scrollHeight + 'px tall, the slide ' + a.clientHeight + 'px');
  if (a.scrollWidth > a.clientWidth + 1) out.push('content is ' + a.scrollWidth + 'px wide, the slide ' + a.clientWidth + 'px');
  for (const e of a.querySelectorAll('*')) {
    if (e.closest('.pagenumber') || e.offsetParent === null) continue;
    const b = e.getBoundingClientRect();
    if (b.width === 0 && b.height === 0) continue;
    const what = e.tagName.toLowerCase() + ' "' + (e.textContent || e.getAttribute('src') || '').trim().slice(0, 50) + '"';
    if (b.bottom > r.bottom - 20) out.push(what + ' ends ' + Math.round(b.bottom - r.top) + 'px down a ' + Math.round(r.height) + 'px slide');
    if (b.right > r.right - 20) out.push(what + ' ends ' + Math.round(b.right - r.left) + 'px across a ' + Math.round(r.width) + 'px slide');
    if (e.tagName === 'PRE' && e.scrollWidth > e.clientWidth + 1) out.push(what + ': a code line is ' + e.scrollWidth + 'px wide, the block ' + e.clientWidth + 'px');
    if (e.tagName === 'IMG' && (!e.complete || e.naturalWidth === 0)) broken.push('image ' + e.getAttribute('src') + ' did not load');
  }
  return {overflow: [...new Set(out)].slice(0, 5), broken, small: small.slice(0, 5)};
})`

// TestSlidesInChromium serves every deck with present, opens it in headless Chromium,
// visits every slide and fails when one overflows its page, when an image, a script or a
// style sheet fails to load, or when the page logs a JavaScript error. It saves a PNG of
// every slide, for review, in $WORKSHOP_SLIDES_PNG or a directory it names.
func TestSlidesInChromium(t *testing.T) {
	chromium, err := show.FindChromium()
	if err != nil {
		if os.Getenv("WORKSHOP_REQUIRE_BROWSER") == "1" {
			t.Fatalf("WORKSHOP_REQUIRE_BROWSER=1 and %v", err)
		}
		t.Skipf("skipped: %v; set WORKSHOP_REQUIRE_BROWSER=1 to make this a failure", err)
	}
	pngDir := os.Getenv("WORKSHOP_SLIDES_PNG")
	if pngDir == "" {
		pngDir = filepath.Join(os.TempDir(), "workshop-slides-png")
	}
	// Two viewports of some 80 slides each: minutes on a loaded 2-core machine.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	srv, err := show.Serve(ctx, ".", t.TempDir(), "..", testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	bctx, closeBrowser := show.Browser(ctx, chromium, t.TempDir())
	defer closeBrowser()

	// The check must be able to fail: a deck made to break every rule breaks them.
	bad, problems := visitDeck(t, bctx, srv.URL+"/slides/testdata/broken.slide", "testdata/broken.slide", t.TempDir(), viewports[0].w, viewports[0].h)
	for _, want := range []string{"slide 2 overflows: content is", "slide 3 overflows: pre", "missing.svg", "console.error: the deck's script failed", "JavaScript exception",
		"slide 5: code \"small code, as present sets it\" is 14.7 px on screen", "slide 6: code \"wrapped", "line 1 wraps", "slide 5: code without a highlighted key line"} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("testdata/broken.slide (%d slides): no problem says %q; the check is blind. It found:\n%s", bad, want, strings.Join(problems, "\n"))
		}
	}

	for _, deck := range decks(t) {
		for _, vp := range viewports {
			dir := filepath.Join(pngDir, fmt.Sprintf("%s-%dx%d", strings.TrimSuffix(deck, ".slide"), vp.w, vp.h))
			os.RemoveAll(dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			n, problems := visitDeck(t, bctx, srv.URL+"/slides/"+deck, deck, dir, vp.w, vp.h)
			for _, p := range problems {
				t.Errorf("%s at %dx%d: %s", deck, vp.w, vp.h, p)
			}
			t.Logf("%s at %dx%d: %d slides looked at in %s; PNGs in %s", deck, vp.w, vp.h, n, chromium, dir)
			fmt.Printf("slides: %s at %dx%d: %d slides checked in Chromium (code %d px or more, no line wrapped), PNGs in %s\n", deck, vp.w, vp.h, n, minCodePx, dir)
		}
	}
}

// visitDeck opens one deck in a new tab, checks each slide and saves its PNG in dir. It
// returns the number of slides and what is wrong with them.
func visitDeck(t *testing.T, bctx context.Context, url, deck, dir string, width, height int64) (int, []string) {
	// A deck present cannot parse is an error page, which the browser would wait on
	// for the whole deadline: fail at once, with present's reason.
	if err := show.CheckDeck(url); err != nil {
		t.Fatalf("%s: %v", deck, err)
	}
	var mu sync.Mutex
	var problems []string
	urls := map[network.RequestID]string{}
	report := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	// The listener runs in the tab's read loop: it only records.
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			urls[ev.RequestID] = ev.Request.URL
		case *network.EventResponseReceived:
			// present answers 404 for the favicon the browser asks for; nothing shows it.
			if ev.Response.Status >= 400 && !strings.HasSuffix(ev.Response.URL, "/favicon.ico") {
				report("%s answered %d", ev.Response.URL, ev.Response.Status)
			}
		case *network.EventLoadingFailed:
			u := urls[ev.RequestID]
			if ev.BlockedReason != "" && show.IsOffline(u) {
				return // present's web font, blocked on purpose
			}
			report("loading %s failed: %s %s", u, ev.ErrorText, ev.BlockedReason)
		case *runtime.EventExceptionThrown:
			report("JavaScript exception: %s", ev.ExceptionDetails.Text+exceptionDescription(ev.ExceptionDetails))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				report("console.%s: %s", ev.Type, strings.Join(args, " "))
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError && !show.IsOffline(ev.Entry.URL) && !strings.HasSuffix(ev.Entry.URL, "/favicon.ico") {
				report("browser log: %s %s", ev.Entry.Text, ev.Entry.URL)
			}
		}
	}
	tab, closeTab := chromedp.NewContext(bctx, chromedp.WithListener(listen))
	defer closeTab()

	err := chromedp.Do(tab,
		blockOffline(),
		chromedp.EmulateViewport(width, height),
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("body.loaded")),
	)
	if err != nil {
		t.Fatalf("%s: open %s: %v", deck, url, err)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](show.NoTransitions)); err != nil {
		t.Fatalf("%s: %v", deck, err)
	}
	count, err := chromedp.Run(tab, chromedp.Evaluate[int](
		`document.fonts.ready.then(() => document.querySelectorAll('section.slides > article').length)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: count the slides: %v", deck, err)
	}
	if count < 2 {
		t.Fatalf("%s: the page has %d slides", deck, count)
	}
	for i := range count {
		if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](fmt.Sprintf(`curSlide = %d; updateSlides(); true`, i))); err != nil {
			t.Fatalf("%s: go to slide %d: %v", deck, i+1, err)
		}
		rep, err := chromedp.Run(tab, chromedp.Evaluate[slideReport](fmt.Sprintf("(%s)(%d)", checkSlide, minCodePx)))
		if err != nil {
			t.Fatalf("%s: slide %d: %v", deck, i+1, err)
		}
		mu.Lock()
		for _, o := range rep.Overflow {
			report("slide %d overflows: %s", i+1, o)
		}
		for _, b := range rep.Broken {
			report("slide %d: %s", i+1, b)
		}
		for _, b := range rep.Small {
			report("slide %d: %s", i+1, b)
		}
		mu.Unlock()
		png, err := chromedp.Run(tab, chromedp.Screenshot(chromedp.CSS("section.slides > article.current")))
		if err != nil {
			t.Fatalf("%s: slide %d: screenshot: %v", deck, i+1, err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d.png", i+1)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return count, slices.Clone(problems)
}

func exceptionDescription(d *runtime.ExceptionDetails) string {
	if d.Exception != nil && d.Exception.Description != "" {
		return ": " + d.Exception.Description
	}
	return ""
}

// blockOffline keeps the page from reaching the internet for present's web font.
func blockOffline() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var patterns []*network.BlockPattern
		for _, u := range show.Offline {
			patterns = append(patterns, &network.BlockPattern{URLPattern: u, Block: true})
		}
		_, err := cdp.Call(ctx, tg, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: patterns})
		return err
	})
}

// testWriter sends present's log to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
