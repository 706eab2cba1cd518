// Command slides-pdf prints a deck to a PDF, one slide a page, for handouts: it serves the
// decks with present and prints the deck with headless Chromium.
//
//	go run ./cmd/slides-pdf -o _out/workshop.pdf workshop.slide
//
// Run it from the slides module (make slides-pdf does).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/ot2otel/workshop/slides/internal/show"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "slides-pdf:", err)
		os.Exit(1)
	}
}

func run(args []string, logw io.Writer) error {
	fs := flag.NewFlagSet("slides-pdf", flag.ContinueOnError)
	out := fs.String("o", "_out/workshop.pdf", "the PDF to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: slides-pdf [-o out.pdf] DECK.slide")
	}
	deck := fs.Arg(0)
	chromium, err := show.FindChromium()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "slides-pdf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// The decks include files from the whole repository: serve it all, from the root.
	srv, err := show.Serve(ctx, ".", tmp, "..", io.Discard)
	if err != nil {
		return err
	}
	defer srv.Close()
	bctx, closeBrowser := show.Browser(ctx, chromium, filepath.Join(tmp, "profile"))
	defer closeBrowser()

	url := srv.URL + "/slides/" + filepath.ToSlash(deck)
	// The browser would wait out ctx on present's error page.
	if err := show.CheckDeck(url); err != nil {
		return fmt.Errorf("open %s: %w", deck, err)
	}
	err = chromedp.Do(bctx,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			var patterns []*network.BlockPattern
			for _, u := range show.Offline {
				patterns = append(patterns, &network.BlockPattern{URLPattern: u, Block: true})
			}
			_, err := cdp.Call(ctx, t, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: patterns})
			return err
		}),
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("body.loaded")),
	)
	if err != nil {
		return fmt.Errorf("open %s: %w", deck, err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](show.NoTransitions)); err != nil {
		return err
	}
	slides, err := chromedp.Run(bctx, chromedp.Evaluate[int](
		`document.fonts.ready.then(() => document.querySelectorAll('section.slides > article').length)`, chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	pdf, err := chromedp.Run(bctx, chromedp.PrintToPDF(
		// The page is the slide: 1240×740 CSS pixels (img/style.html), 96 to the inch. (present's own
		// style sheet asks for A4, which would leave a margin around every slide.)
		chromedp.PDFPaper(chromedp.PaperSize{Width: 1240.0 / 96, Height: 740.0 / 96}),
		chromedp.PDFMargin(0),
		chromedp.PDFPrintBackground(),
	))
	if err != nil {
		return fmt.Errorf("print %s: %w", deck, err)
	}
	// One slide a page: a slide taller than its page would spill onto the next.
	if pages := len(pageRE.FindAll(pdf, -1)); pages != slides {
		return fmt.Errorf("the PDF of %s has %d pages for %d slides", deck, pages, slides)
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*out, pdf, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(logw, "slides-pdf: wrote %s: %s, %d slides on %d pages\n", *out, deck, slides, slides)
	return nil
}

// pageRE matches a page object of the PDF Chromium writes (it writes no object streams).
var pageRE = regexp.MustCompile(`/Type\s*/Page[^s]`)
