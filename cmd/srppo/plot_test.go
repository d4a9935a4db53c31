package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosrppo/gosrppo/srppo"
)

// Fake run directories shaped like the output of 'srppo ppo', 'srppo pretrain' and
// 'srppo eval -report', small and deterministic. Set SRPPO_PLOT_TEST_OUT to a directory to keep
// the figures of TestPlotPPORun there and look at them.

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeJSONLines[T any](t *testing.T, path string, records []T) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, r := range records {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakePPORun writes DIR/metrics.jsonl (iterations 0..iters-1, 32 responses each; growth is how
// many tokens the mean length gains per iteration), DIR/completions.jsonl, and
// DIR/checkpoint/state.json with the placement mode.
func fakePPORun(t *testing.T, dir, mode string, iters int, growth float64, seed uint64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	type completion struct {
		Iteration int     `json:"iteration"`
		Prompt    string  `json:"prompt"`
		Response  string  `json:"response"`
		Reward    float64 `json:"reward"`
		KL        float64 `json:"kl"`
		Length    int     `json:"length"`
		Stopped   bool    `json:"stopped"`
	}
	var ms []srppo.Metrics
	var comps []completion
	for it := range iters {
		m := srppo.Metrics{Iteration: it}
		var sum, sq, rs float64
		trunc := 0
		for range 32 {
			l := min(24, max(1, int(math.Round(6+growth*float64(it)+1.5*rng.NormFloat64()))))
			if l == 24 {
				trunc++
			}
			r := 2 + 0.3*float64(l) + rng.NormFloat64()
			m.Lengths = append(m.Lengths, l)
			sum, sq, rs = sum+float64(l), sq+float64(l*l), rs+r
			comps = append(comps, completion{Iteration: it, Prompt: "REV a b c", Response: "c b a <eos>", Reward: r, KL: 0.01 * float64(it), Length: l, Stopped: l < 24})
		}
		m.Length = sum / 32
		m.LengthStd = math.Sqrt(max(0, sq/32-m.Length*m.Length))
		m.Reward = rs / 32
		m.RewardStd = 1
		m.KL = 0.02 * float64(it)
		m.TruncPct = 100 * float64(trunc) / 32
		m.EOSPct = 100 - m.TruncPct
		m.DeltaContent = srppo.Float(0.2 + 0.01*float64(it))
		m.DeltaEOS = srppo.Float(5 - 0.02*float64(it))
		m.Correct = srppo.Float(math.NaN()) // no gold answers
		m.ClipFrac = 0.05 + 0.001*float64(it) + 0.005*rng.Float64()
		m.ApproxKL = 0.002 + 0.0001*float64(it)*float64(seed)
		m.ValueLoss = 2*math.Exp(-0.1*float64(it)) + 0.05*rng.Float64()
		m.Entropy = 1.2 - 0.005*float64(it)*float64(seed)
		m.ExplainedVar = srppo.Float(0.9 * (1 - math.Exp(-0.2*float64(it))))
		if it == 3 {
			m.ExplainedVar = srppo.Float(math.NaN()) // every return equal: undefined
		}
		m.FirstRatio = 1
		if it%10 == 9 {
			m.EvalEM = map[string]float64{"id": 0.8 + 0.001*float64(it), "ood_op": 0.3 + 0.002*float64(it)}
		}
		ms = append(ms, m)
	}
	writeJSONLines(t, filepath.Join(dir, "metrics.jsonl"), ms)
	writeJSONLines(t, filepath.Join(dir, "completions.jsonl"), comps)
	cfg := srppo.DefaultPPOConfig(mode)
	writeJSONFile(t, filepath.Join(dir, "checkpoint", "state.json"), map[string]any{"iteration": iters, "config": cfg})
}

// fakeRollout returns a rollout at stage "advantages" with hand-made rows.
func fakeRollout(iteration int) *srppo.Rollout {
	rows := []struct {
		prompt, split string
		words         []string
		stopped       bool
	}{
		{"REV a b c", "id", []string{"c", "b", "a", "<eos>"}, true},
		{"SORT 3 1 2", "id", []string{"1", "2", "3", "<eos>"}, true},
		{"MAX 4 9 2", "ood_op", []string{"9", "<eos>"}, true},
		{"REV d e f g h", "ood_len", []string{"h", "g", "f", "e", "d", "h", "g", "f", "e", "d", "h", "g", "f", "e", "d", "h", "g", "f", "e", "d", "h", "g", "f", "e"}, false},
		{"FIRST x y", "id", []string{"x", "y", "<eos>"}, true},
	}
	r := &srppo.Rollout{Iteration: iteration, Config: srppo.DefaultPPOConfig(srppo.PlaceEOS), Stage: srppo.StageAdvantages}
	for i, x := range rows {
		n := len(x.words)
		row := srppo.RolloutRow{PromptIndex: i, Prompt: x.prompt, Split: x.split, Words: x.words,
			Text: strings.Join(x.words, " "), Stopped: x.stopped, Truncated: !x.stopped}
		for t := range n {
			row.Tokens = append(row.Tokens, int32(10+t))
			sft := float32(-0.1 - 0.2*float64((t+i)%4))
			pt := float32(-1.5 - 0.5*float64((t*3+i)%5))
			if x.words[t] == "<eos>" {
				pt = -7.5
			}
			row.LogpOld = append(row.LogpOld, sft)
			row.LogpPolicy = append(row.LogpPolicy, sft)
			row.LogpSFT = append(row.LogpSFT, sft)
			row.LogpPT = append(row.LogpPT, pt)
			row.Delta = append(row.Delta, sft-pt)
			row.KL = append(row.KL, float32(0.01*float64(t)))
			row.Values = append(row.Values, float32(3-0.1*float64(t)))
			row.Advantages = append(row.Advantages, float32(0.5-0.1*float64(t+i)))
			row.Coherent += float64(sft - pt)
		}
		r.Rows = append(r.Rows, row)
	}
	return r
}

func fakeTrainResult() srppo.TrainResult {
	res := srppo.TrainResult{BestEpoch: 5, Steps: 120}
	for e := range 10 {
		x := float64(e + 1)
		res.Curve = append(res.Curve, srppo.EpochStat{Epoch: e, TrainLoss: 2.2*math.Exp(-0.45*x) + 0.05,
			HeldOut: srppo.Float(2.2*math.Exp(-0.4*x) + 0.25 + 0.012*x*x)})
	}
	// BestEpoch is the lowest held-out loss, as srppo.Train picks it.
	best := 0
	for i, e := range res.Curve {
		if e.HeldOut < res.Curve[best].HeldOut {
			best = i
		}
	}
	res.BestEpoch = best
	return res
}

func fakeEvalReport(em map[string]float64) srppo.EvalReport {
	rep := srppo.EvalReport{Format: srppo.FormatChat}
	var sum float64
	for _, split := range []string{"id", "ood_op", "ood_len"} {
		rep.BySplit = append(rep.BySplit, srppo.GroupStats{Group: split, N: 100, EM: em[split]})
		sum += em[split]
	}
	rep.Overall = srppo.GroupStats{Group: "all", N: 300, EM: sum / 3}
	return rep
}

// runPlot runs 'srppo plot' with args and returns its output.
func runPlot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := plotCommand(args, &out)
	return out.String(), err
}

// checkPNGs checks that every name.png exists in dir, decodes, has a sensible size and was
// reported as written.
func checkPNGs(t *testing.T, dir, output string, names ...string) {
	t.Helper()
	for _, name := range names {
		path := filepath.Join(dir, name+".png")
		f, err := os.Open(path)
		if err != nil {
			t.Errorf("%s: %v\noutput:\n%s", name, err, output)
			continue
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s does not decode: %v", path, err)
			continue
		}
		if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 200 {
			t.Errorf("%s is %dx%d pixels, want at least 500x200", path, b.Dx(), b.Dy())
		}
		if !strings.Contains(output, "wrote "+path) {
			t.Errorf("output does not list %s:\n%s", path, output)
		}
	}
}

func TestPlotPPORun(t *testing.T) {
	root := t.TempDir()
	eos, token := filepath.Join(root, "runs", "eos"), filepath.Join(root, "runs", "token")
	fakePPORun(t, eos, srppo.PlaceEOS, 41, 0.01, 1)
	fakePPORun(t, token, srppo.PlaceToken, 41, 0.45, 2)
	if err := fakeRollout(40).Save(filepath.Join(eos, "rollout.json")); err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("SRPPO_PLOT_TEST_OUT")
	if out == "" {
		out = filepath.Join(root, "figures")
	}
	output, err := runPlot(t, "-run", eos, "-compare", token, "-iterations", "0,20,last,200", "-out", out)
	if err != nil {
		t.Fatalf("plot: %v\n%s", err, output)
	}
	checkPNGs(t, out, output, "dashboard", "dashboard_2", "curves", "lengths", "mean_length", "reward_vs_length", "token_rewards")
	for _, want := range []string{
		"no run has iteration 200 (runs have 0–40); skipped", // an iteration no run has
		"explained var. is undefined at 1 of 41 iterations (3) and is left out",
	} {
		if !strings.Contains(output, want) {
			t.Errorf("output lacks %q:\n%s", want, output)
		}
	}
	if strings.Contains(output, "overfitting") || strings.Contains(output, "skipped token_rewards") {
		t.Errorf("unexpected figure in output:\n%s", output)
	}
}

func TestPlotDefaultsAndSVG(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	fakePPORun(t, dir, srppo.PlaceEOS, 3, 0, 3)
	// No saved rollout: token_rewards is skipped, the rest goes to DIR/plots.
	output, err := runPlot(t, "-run", dir)
	if err != nil {
		t.Fatalf("plot: %v\n%s", err, output)
	}
	checkPNGs(t, filepath.Join(dir, "plots"), output, "dashboard", "curves", "lengths", "mean_length", "reward_vs_length")
	if !strings.Contains(output, "skipped token_rewards.png: no saved rollout") {
		t.Errorf("output does not say token_rewards is skipped:\n%s", output)
	}
	// A saved rollout in DIR/rollouts: the one with the highest number is used.
	if err := os.MkdirAll(filepath.Join(dir, "rollouts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, it := range []int{1, 2} {
		if err := fakeRollout(it).Save(filepath.Join(dir, "rollouts", fmt.Sprintf("iter_%d.json", it))); err != nil {
			t.Fatal(err)
		}
	}
	svgOut := filepath.Join(t.TempDir(), "svg")
	output, err = runPlot(t, "-run", dir, "-format", "svg", "-out", svgOut)
	if err != nil {
		t.Fatalf("plot -format svg: %v\n%s", err, output)
	}
	for _, name := range []string{"dashboard", "curves", "lengths", "mean_length", "reward_vs_length", "token_rewards"} {
		data, err := os.ReadFile(filepath.Join(svgOut, name+".svg"))
		if err != nil || !bytes.Contains(data, []byte("<svg")) {
			t.Errorf("%s.svg: %v", name, err)
		}
	}
}

func TestPlotTrainDir(t *testing.T) {
	for _, file := range []string{"pretrain.json", "sft.json"} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			writeJSONFile(t, filepath.Join(dir, file), map[string]any{"command": "srppo x", "result": fakeTrainResult(), "demos": 64})
			output, err := runPlot(t, "-run", dir)
			if err != nil {
				t.Fatalf("plot: %v\n%s", err, output)
			}
			checkPNGs(t, filepath.Join(dir, "plots"), output, "overfitting")
		})
	}
}

func TestPlotReports(t *testing.T) {
	dir := t.TempDir()
	sft, eos := filepath.Join(dir, "sft", "report.json"), filepath.Join(dir, "eos", "report.json")
	writeJSONFile(t, sft, fakeEvalReport(map[string]float64{"id": 0.81, "ood_op": 0.12, "ood_len": 0.4}))
	writeJSONFile(t, eos, fakeEvalReport(map[string]float64{"id": 0.83, "ood_op": 0.2, "ood_len": 0.45}))
	output, err := runPlot(t, "-report", sft, "-compare", eos)
	if err != nil {
		t.Fatalf("plot: %v\n%s", err, output)
	}
	checkPNGs(t, filepath.Join(dir, "sft", "plots"), output, "grouped_bars")
}

func TestPlotErrors(t *testing.T) {
	root := t.TempDir()
	good := filepath.Join(root, "good")
	fakePPORun(t, good, srppo.PlaceEOS, 2, 0, 4)
	mk := func(name string, files map[string]string) string {
		dir := filepath.Join(root, name)
		for f, content := range files {
			path := filepath.Join(dir, f)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	empty := mk("empty", nil)
	emptyMetrics := mk("empty_metrics", map[string]string{"metrics.jsonl": ""})
	garbage := mk("garbage", map[string]string{"metrics.jsonl": "{\"iteration\": 0, \"reward\": 1, \"length\": 3}\nnot json\n"})
	foreign := mk("foreign", map[string]string{"metrics.jsonl": "{\"step\": 1, \"loss\": 2}\n"})
	noResult := mk("no_result", map[string]string{"sft.json": `{"command": "srppo sft"}`})
	noHeld := mk("no_held", map[string]string{"pretrain.json": `{"result": {"curve": [{"epoch": 0, "train_loss": 2, "held_out": null}], "best_epoch": 0}}`})
	stage := mk("stage", nil)
	fakePPORun(t, stage, srppo.PlaceEOS, 2, 0, 5)
	r := fakeRollout(1)
	r.Stage = srppo.StageRollout
	for i := range r.Rows {
		r.Rows[i].Delta = nil
	}
	if err := r.Save(filepath.Join(stage, "rollout.json")); err != nil {
		t.Fatal(err)
	}
	badRollout := mk("bad_rollout", nil)
	fakePPORun(t, badRollout, srppo.PlaceEOS, 2, 0, 6)
	if err := os.WriteFile(filepath.Join(badRollout, "rollout.json"), []byte("{\"rows\": 3}"), 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(root, "report.json")
	if err := os.WriteFile(report, []byte(`{"format": "chat"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"no input", nil, "give either -run DIR or -report FILE"},
		{"both inputs", []string{"-run", good, "-report", report}, "give either -run DIR or -report FILE"},
		{"missing dir", []string{"-run", filepath.Join(root, "nope")}, "nope: no such file or directory"},
		{"file as run", []string{"-run", report}, "report.json: not a directory"},
		{"empty dir", []string{"-run", empty}, empty + " is not a run directory: it has no metrics.jsonl"},
		{"empty metrics", []string{"-run", emptyMetrics}, filepath.Join(emptyMetrics, "metrics.jsonl") + " is empty"},
		{"garbage metrics", []string{"-run", garbage}, filepath.Join(garbage, "metrics.jsonl") + ": record 2"},
		{"foreign metrics", []string{"-run", foreign}, filepath.Join(foreign, "metrics.jsonl") + `: record 1 has no "iteration" field`},
		{"bad compare", []string{"-run", good, "-compare", empty}, filepath.Join(empty, "metrics.jsonl") + ": no such file"},
		{"compare train dir", []string{"-run", noResult, "-compare", good}, "-compare needs PPO runs, but " + noResult},
		{"no result", []string{"-run", noResult}, filepath.Join(noResult, "sft.json") + ` has no loss curve`},
		{"no held-out", []string{"-run", noHeld}, filepath.Join(noHeld, "pretrain.json") + ": plotting: training result has no held-out loss at epoch 1"},
		{"unscored rollout", []string{"-run", stage}, filepath.Join(stage, "rollout.json") + `: plotting: rollout of iteration 1 is at stage "rollout"`},
		{"bad rollout", []string{"-run", badRollout}, filepath.Join(badRollout, "rollout.json") + ": json: cannot unmarshal"},
		{"missing report", []string{"-report", filepath.Join(root, "none.json")}, "none.json: no such file"},
		{"not a report", []string{"-report", report}, report + ` has no per-split results`},
		{"not json report", []string{"-report", filepath.Join(garbage, "metrics.jsonl")}, "metrics.jsonl: not an eval report"},
		{"bad format", []string{"-run", good, "-format", "jpg"}, `-format "jpg": want png or svg`},
		{"bad iterations", []string{"-run", good, "-iterations", "0,x"}, `-iterations: "x" is not an iteration`},
		{"empty iterations", []string{"-run", good, "-iterations", ","}, "-iterations is empty"},
		{"iterations nobody has", []string{"-run", good, "-iterations", "7"}, "lengths: no run has response lengths at iterations 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			output, err := runPlot(t, append(tc.args, "-out", filepath.Join(root, "out", tc.name))...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want one containing %q\noutput:\n%s", err, tc.want, output)
			}
		})
	}
	// Flag errors are usage errors (exit 2) through dispatch.
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"plot", "-bogus"}, &stdout, &stderr); code != 2 {
		t.Errorf("plot -bogus: exit %d, want 2", code)
	}
}
