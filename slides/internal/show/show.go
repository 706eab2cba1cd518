// Package show serves the workshop's decks with golang.org/x/tools/cmd/present and opens
// them in Debian's Chromium, headless, through the DevTools protocol: what the browser
// test and the PDF command share.
package show

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// Server is a running present.
type Server struct {
	// URL is where present serves the content directory, such as http://127.0.0.1:40123.
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
}

var visitRE = regexp.MustCompile(`visit (http://\S+)`)

// Serve builds the present tool pinned in the module at moduleDir into binDir and serves
// content on a free loopback port as make slides does: speaker notes on (they open in a
// window of their own, with N), the playground off (the slides show code, they do not
// run it), and present's own templates and styles. Its log
// goes to logw. Stop it with Close.
func Serve(ctx context.Context, moduleDir, binDir, content string, logw io.Writer) (*Server, error) {
	bin := filepath.Join(binDir, "present")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "golang.org/x/tools/cmd/present")
	build.Dir = moduleDir
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build present: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-http", "127.0.0.1:0", "-content", content, "-play=false", "-notes")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = logw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start present: %w", err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logw, "present:", sc.Text())
			if m := visitRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case s.URL = <-found:
		return s, nil
	case <-s.done:
		cmd.Wait()
		return nil, errors.New("present exited before it served anything (its log is above)")
	case <-time.After(30 * time.Second):
		s.Close()
		return nil, errors.New("present did not say where it listens within 30s")
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
}

// CheckDeck asks present for the page at url and returns present's reason when it cannot
// serve it (a deck that does not parse): a browser would wait on the error page until its
// deadline.
func CheckDeck(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("present answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// Close stops present.
func (s *Server) Close() error {
	s.cmd.Process.Kill()
	<-s.done
	s.cmd.Wait()
	return nil
}

// Chromium is where Debian installs its chromium.
const Chromium = "/usr/bin/chromium"

// FindChromium returns the path of Debian's chromium, or an error that says how to
// install it.
func FindChromium() (string, error) {
	if _, err := os.Stat(Chromium); err == nil {
		return Chromium, nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", errors.New("no chromium (apt-get install chromium)")
}

// Browser starts a headless Chromium with an empty profile in userDataDir and returns a
// context for chromedp to drive one tab of it, and the function that closes the browser.
// The flags keep it off the network: without them it calls home at every start.
func Browser(ctx context.Context, execPath, userDataDir string) (context.Context, context.CancelFunc) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(userDataDir),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	return bctx, func() { cancelBrowser(); cancelAlloc() }
}

// Offline lists the URLs the decks' page asks for that are not ours to serve: present's
// slides.js loads Open Sans from Google Fonts. The browser blocks them (nothing leaves
// the machine) and the slides fall back to Arial.
var Offline = []string{"*://fonts.googleapis.com/*", "*://fonts.gstatic.com/*"}

// IsOffline reports whether url is one of Offline's.
func IsOffline(url string) bool {
	return strings.HasPrefix(url, "http://fonts.googleapis.com/") || strings.HasPrefix(url, "https://fonts.googleapis.com/") ||
		strings.HasPrefix(url, "https://fonts.gstatic.com/") || strings.HasPrefix(url, "http://fonts.gstatic.com/")
}

// NoTransitions is a style sheet that makes slide changes instant, so that what the
// browser measures and shoots is the slide at rest.
const NoTransitions = `(() => { const s = document.createElement('style');
s.textContent = '*, *::before, *::after { transition: none !important; animation: none !important; }';
document.head.appendChild(s); return true; })()`
