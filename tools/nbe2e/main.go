// Command nbe2e checks a GoNB notebook end to end for docker/e2e.sh: once as a file executed
// headlessly (nbconvert) and once driven through JupyterLab in a real headless Chromium.
//
//	nbe2e check  [-figures N] [-figure TEXT]... FILE.ipynb
//	nbe2e browser -url URL -token TOKEN -notebook PATH [-figures N] [-figure TEXT]...
//	              [-screenshots DIR] [-chromium PATH] [-timeout D]
//
// check reads an executed notebook and fails when a code cell did not run, a cell has an error
// output, fewer than N image/png outputs exist, or the cell whose source contains TEXT has no
// image/png output.
//
// browser opens PATH (relative to JupyterLab's root) in JupyterLab, runs all cells (Shift+Enter
// from the first cell on), waits until every code cell has an execution count and the kernel is idle, then checks the
// page: no error or stderr output is shown, at least N images are rendered (loaded, non-zero size)
// and the cell whose source contains TEXT shows one as an <img>. It saves screenshots into DIR
// (the top of the notebook, then one centred on each rendered figure). (Saving with Ctrl+S and
// checking the saved file was tried: the key press did not save in headless Chromium.)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "check":
		err = runCheck(os.Args[2:])
	case "browser":
		err = runBrowser(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "nbe2e %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: nbe2e check [-figures N] [-figure TEXT]... FILE.ipynb\n"+
		"       nbe2e browser -url URL -token TOKEN -notebook PATH [-figures N] [-figure TEXT]... [-screenshots DIR] [-chromium PATH] [-timeout D]")
	os.Exit(2)
}

// listFlag collects a repeated string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// expectations are what an executed notebook must show.
type expectations struct {
	figures int      // image/png outputs, at least
	markers []string // a cell whose source contains each of these shows an image
}

func (e *expectations) register(fs *flag.FlagSet) {
	fs.IntVar(&e.figures, "figures", 1, "image outputs the notebook must show, at least")
	fs.Var((*listFlag)(&e.markers), "figure", "text in the source of a cell that must show an image (repeatable)")
}

func runCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	var want expectations
	want.register(fs)
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return errors.New("want exactly one notebook file")
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	summary, problems := checkNotebook(data, want)
	fmt.Printf("%s: %s\n", fs.Arg(0), summary)
	if len(problems) > 0 {
		return fmt.Errorf("%s:\n  %s", fs.Arg(0), strings.Join(problems, "\n  "))
	}
	return nil
}

// The parts of an nbformat 4 notebook that the checks read.
type nbCell struct {
	Type      string          `json:"cell_type"`
	Source    json.RawMessage `json:"source"`
	ExecCount *int            `json:"execution_count"`
	Outputs   []struct {
		Type   string                     `json:"output_type"`
		Name   string                     `json:"name"`
		Text   json.RawMessage            `json:"text"`
		Data   map[string]json.RawMessage `json:"data"`
		EName  string                     `json:"ename"`
		EValue string                     `json:"evalue"`
	} `json:"outputs"`
}

// multiline reads an nbformat string, stored as one string or a list of lines.
func multiline(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var lines []string
	_ = json.Unmarshal(raw, &lines)
	return strings.Join(lines, "")
}

// checkNotebook applies check's rules to an executed notebook's JSON.
func checkNotebook(data []byte, want expectations) (summary string, problems []string) {
	var nb struct {
		Cells []nbCell `json:"cells"`
	}
	if err := json.Unmarshal(data, &nb); err != nil {
		return "", []string{fmt.Sprintf("not a notebook: %v", err)}
	}
	code, images := 0, 0
	marked := make([]bool, len(want.markers))
	for i, c := range nb.Cells {
		if c.Type != "code" {
			continue
		}
		code++
		src := multiline(c.Source)
		if c.ExecCount == nil {
			problems = append(problems, fmt.Sprintf("cell %d did not run (no execution count): %s", i, firstLine(src)))
		}
		cellImages := 0
		for _, o := range c.Outputs {
			if o.Type == "error" {
				problems = append(problems, fmt.Sprintf("cell %d has an error output: %s: %s", i, o.EName, o.EValue))
			}
			if _, ok := o.Data["image/png"]; ok {
				cellImages++
			}
		}
		images += cellImages
		for m, marker := range want.markers {
			if strings.Contains(src, marker) && cellImages > 0 {
				marked[m] = true
			}
		}
	}
	for m, ok := range marked {
		if !ok {
			problems = append(problems, fmt.Sprintf("no cell whose source contains %q shows an image/png output", want.markers[m]))
		}
	}
	if images < want.figures {
		problems = append(problems, fmt.Sprintf("%d image/png outputs, want at least %d", images, want.figures))
	}
	return fmt.Sprintf("%d code cells, %d image/png outputs, %d problems", code, images, len(problems)), problems
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// jupyter talks to a JupyterLab server's REST API.
type jupyter struct {
	base  *url.URL
	token string
}

func (j jupyter) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, j.base.JoinPath(path).String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "token "+j.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// kernelState returns the execution state of the kernel of the session open on path ("" if none).
func (j jupyter) kernelState(ctx context.Context, path string) (string, error) {
	var sessions []struct {
		Path   string `json:"path"`
		Kernel struct {
			Name  string `json:"name"`
			State string `json:"execution_state"`
		} `json:"kernel"`
	}
	if err := j.do(ctx, http.MethodGet, "api/sessions", nil, &sessions); err != nil {
		return "", err
	}
	for _, s := range sessions {
		if s.Path == path {
			return s.Kernel.Name + ":" + s.Kernel.State, nil
		}
	}
	return "", nil
}

// settings JupyterLab gets before the page opens: every cell stays in the DOM (JupyterLab 4
// otherwise detaches cells scrolled out of view, and the checks read all of them), and no
// "fetch news?" prompt covers the screenshots.
var settings = map[string]string{
	"@jupyterlab/notebook-extension:tracker":      `{"windowingMode": "none"}`,
	"@jupyterlab/apputils-extension:notification": `{"fetchNews": "false", "checkForUpdates": false}`,
}

// pageState is what the page reports on each poll.
type pageState struct {
	Prompts []string `json:"prompts"` // the input prompts of the code cells: "[3]:", "[*]:", "[ ]:"
}

const pageStateJS = `(() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!nb) return {prompts: []};
  const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
  return {prompts};
})()`

// cellReport is what the page shows for one code cell after the run.
type cellReport struct {
	Index   int      `json:"index"`
	Source  string   `json:"source"`
	Mimes   []string `json:"mimes"`  // data-mime-type of each rendered output
	Errors  []string `json:"errors"` // text of error/stderr outputs
	Images  []image  `json:"images"`
	Outputs int      `json:"outputs"`
}

type image struct {
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Complete bool   `json:"complete"`
	Src      string `json:"src"` // its first characters
}

const cellsJS = `(() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  return [...nb.querySelectorAll('.jp-CodeCell')].map((c, index) => {
    const outs = [...c.querySelectorAll('.jp-OutputArea-output')];
    return {
      index,
      source: (c.querySelector('.jp-InputArea-editor .cm-content') || {innerText: ''}).innerText,
      outputs: outs.length,
      mimes: outs.map(o => o.getAttribute('data-mime-type') || ''),
      errors: outs.filter(o => /application\/vnd\.jupyter\.(stderr|error)/.test(o.getAttribute('data-mime-type') || ''))
                 .map(o => o.innerText.slice(0, 400)),
      images: [...c.querySelectorAll('.jp-OutputArea-output img')].map(i => ({
        width: i.naturalWidth, height: i.naturalHeight, complete: i.complete, src: i.src.slice(0, 30)})),
    };
  });
})()`

func runBrowser(args []string) error {
	fs := flag.NewFlagSet("browser", flag.ExitOnError)
	var want expectations
	want.register(fs)
	base := fs.String("url", "http://127.0.0.1:8888", "JupyterLab's base URL")
	token := fs.String("token", "", "JupyterLab's token")
	nbPath := fs.String("notebook", "", "the notebook, relative to JupyterLab's root")
	shots := fs.String("screenshots", "", "directory for the screenshots (none if empty)")
	chromium := fs.String("chromium", "/usr/bin/chromium", "the Chromium binary")
	timeout := fs.Duration("timeout", 15*time.Minute, "the longest the run of all cells may take")
	width := fs.Int("width", 1280, "window width")
	height := fs.Int("height", 900, "window height")
	_ = fs.Parse(args)
	if *nbPath == "" || *token == "" || fs.NArg() != 0 {
		return errors.New("need -notebook and -token, and no other arguments")
	}
	u, err := url.Parse(*base)
	if err != nil {
		return fmt.Errorf("-url: %v", err)
	}
	j := jupyter{base: u, token: *token}
	ctx := context.Background()

	for id, raw := range settings {
		if err := j.do(ctx, http.MethodPut, "lab/api/settings/"+id, map[string]string{"raw": raw}, nil); err != nil {
			return fmt.Errorf("setting %s: %v", id, err)
		}
	}

	profile, err := os.MkdirTemp("", "nbe2e-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	// The flags that let Chromium run as root in a container-less sandbox and keep it off the
	// network (this machine's closed network refuses its background connections).
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(*chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(*width, *height),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", false),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	page := u.JoinPath("lab", "tree", *nbPath)
	page.RawQuery = url.Values{"token": {*token}, "reset": {""}}.Encode()
	fmt.Printf("browser: opening %s\n", strings.Replace(page.String(), *token, "…", 1))
	if err := chromedp.Do(bctx, chromedp.Navigate(page.String())); err != nil {
		return fmt.Errorf("opening JupyterLab: %v", err)
	}

	// The notebook is open and its kernel (from the notebook's metadata) has started.
	start := time.Now()
	if err := waitFor(bctx, 3*time.Minute, "the notebook to open with an idle kernel", func() (bool, string, error) {
		st, err := chromedp.Run(bctx, chromedp.Evaluate[pageState](pageStateJS))
		if err != nil {
			return false, "", err
		}
		k, err := j.kernelState(bctx, *nbPath)
		return len(st.Prompts) > 0 && strings.HasSuffix(k, ":idle"), fmt.Sprintf("%d code cells, kernel %q", len(st.Prompts), k), err
	}); err != nil {
		return err
	}
	fmt.Printf("browser: notebook open, kernel idle after %.0f s\n", time.Since(start).Seconds())

	if err := runAll(bctx); err != nil {
		return err
	}
	start = time.Now()
	done := regexp.MustCompile(`^\[\d+\]:$`)
	idlePolls := 0
	if err := waitFor(bctx, *timeout, "every cell to run and the kernel to go idle", func() (bool, string, error) {
		st, err := chromedp.Run(bctx, chromedp.Evaluate[pageState](pageStateJS))
		if err != nil {
			return false, "", err
		}
		k, err := j.kernelState(bctx, *nbPath)
		if err != nil {
			return false, "", err
		}
		n := 0
		for _, p := range st.Prompts {
			if done.MatchString(p) {
				n++
			}
		}
		if n == len(st.Prompts) && strings.HasSuffix(k, ":idle") {
			idlePolls++ // twice in a row: the kernel can be idle for a moment between two cells
		} else {
			idlePolls = 0
		}
		return idlePolls >= 2, fmt.Sprintf("%d/%d code cells done, kernel %q, prompts %v", n, len(st.Prompts), k, st.Prompts), nil
	}); err != nil {
		return err
	}
	fmt.Printf("browser: all cells ran in %.0f s\n", time.Since(start).Seconds())

	cells, err := chromedp.Run(bctx, chromedp.Evaluate[[]cellReport](cellsJS))
	if err != nil {
		return fmt.Errorf("reading the cells: %v", err)
	}
	var problems []string
	rendered := 0
	marked := make([]bool, len(want.markers))
	for _, c := range cells {
		good := 0
		for _, im := range c.Images {
			if im.Complete && im.Width > 0 && im.Height > 0 {
				good++
			} else {
				problems = append(problems, fmt.Sprintf("code cell %d: an image did not render (%+v)", c.Index, im))
			}
		}
		rendered += good
		fmt.Printf("browser: code cell %d (%s): outputs %v, %d images rendered\n", c.Index, firstLine(c.Source), c.Mimes, good)
		for _, e := range c.Errors {
			problems = append(problems, fmt.Sprintf("code cell %d shows an error/stderr output: %s", c.Index, e))
		}
		for m, marker := range want.markers {
			if strings.Contains(c.Source, marker) && good > 0 {
				marked[m] = true
				fmt.Printf("browser: the cell with %q shows an <img> of %dx%d px (%s…)\n", marker, c.Images[0].Width, c.Images[0].Height, c.Images[0].Src)
			}
		}
	}
	for m, ok := range marked {
		if !ok {
			problems = append(problems, fmt.Sprintf("no cell whose source contains %q shows a rendered <img>", want.markers[m]))
		}
	}
	if rendered < want.figures {
		problems = append(problems, fmt.Sprintf("%d images rendered, want at least %d", rendered, want.figures))
	}

	if *shots != "" {
		if err := screenshots(bctx, *shots, strings.TrimSuffix(filepath.Base(*nbPath), ".ipynb"), rendered); err != nil {
			problems = append(problems, fmt.Sprintf("screenshots: %v", err))
		}
	}

	if len(problems) > 0 {
		return fmt.Errorf("%s:\n  %s", *nbPath, strings.Join(problems, "\n  "))
	}
	fmt.Printf("browser: %s ran in JupyterLab with no error output and %d rendered figures\n", *nbPath, rendered)
	return nil
}

// runAll runs every cell as a person at the keyboard would: a click on the first cell's prompt
// selects it (command mode), then Shift+Enter runs each and moves to the next, so all of them are
// queued in order, as Run ▸ Run All Cells does (clicking that menu item did not run them here).
func runAll(ctx context.Context) error {
	first, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
  const cells = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
  const r = cells[0].querySelector('.jp-InputPrompt').getBoundingClientRect();
  return [cells.length, r.x + r.width / 2, r.y + r.height / 2];
})()`))
	if err != nil || len(first) != 3 {
		return fmt.Errorf("finding the first cell: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(first[1], first[2]), chromedp.KeyEvent(kb.Escape)); err != nil {
		return fmt.Errorf("selecting the first cell: %v", err)
	}
	// Shift+Enter on the last cell would append a new one: Ctrl+Enter runs it in place.
	for i := range int(first[0]) {
		mod := chromedp.ModifierShift
		if i == int(first[0])-1 {
			mod = chromedp.ModifierCtrl
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(mod))); err != nil {
			return fmt.Errorf("Shift+Enter: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// screenshots saves the top of the notebook and one view centred on each rendered figure, as
// DIR/STEM-top.png and DIR/STEM-figN.png, replacing the earlier screenshots of this notebook.
func screenshots(ctx context.Context, dir, stem string, figures int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dir, stem+"-*.png"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	shot := func(name, scrollJS string) error {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](scrollJS)); err != nil {
			return err
		}
		time.Sleep(700 * time.Millisecond) // let the scroll settle and the images paint
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			return err
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			return err
		}
		fmt.Printf("browser: screenshot %s (%d KB)\n", path, len(png)/1024)
		return nil
	}
	if err := shot(stem+"-top.png", `document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').scrollIntoView({block: 'start'})`); err != nil {
		return err
	}
	for i := 0; i < figures; i++ {
		js := fmt.Sprintf(`[...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img')][%d].scrollIntoView({block: 'center'})`, i)
		if err := shot(fmt.Sprintf("%s-fig%d.png", stem, i+1), js); err != nil {
			return err
		}
	}
	return nil
}

// waitFor polls cond every two seconds until it holds, printing its state when it changes.
func waitFor(ctx context.Context, limit time.Duration, what string, cond func() (bool, string, error)) error {
	deadline := time.Now().Add(limit)
	last := ""
	for {
		ok, state, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %v", what, err)
		}
		if ok {
			return nil
		}
		if state != last {
			fmt.Printf("browser: waiting for %s: %s\n", what, state)
			last = state
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting %s for %s (last: %s)", limit, what, state)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
