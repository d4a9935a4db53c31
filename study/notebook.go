package study

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/compute"
)

// NotebookWorkEnv names the environment variable that overrides the notebooks' work directory
// (default ".work", relative to the notebook, i.e. notebooks/.work). The notebook checker points
// it at a fresh directory so that no state from an earlier run is reused.
const NotebookWorkEnv = "GOSRPPO_NOTEBOOK_WORK"

// NotebookDir is the workspace of notebook 05 for a budget: $GOSRPPO_NOTEBOOK_WORK/study-BUDGET,
// or .work/study-BUDGET beside the notebook.
func NotebookDir(budget string) string {
	work := os.Getenv(NotebookWorkEnv)
	if work == "" {
		work = ".work"
	}
	return filepath.Join(work, "study-"+budget)
}

// SetBackend selects the compute backend of this process before its first use: "" keeps
// $GOMLX_BACKEND or, when that is unset, the pure-Go backend (srppo.DefaultBackend);
// "xla:cuda" (or another PJRT plugin) needs a kernel built with -tags xla.
func SetBackend(config string) error {
	if config == "" {
		return nil
	}
	return os.Setenv(compute.ConfigEnvVar, config)
}

// OpenNotebook opens the study of notebook 05 with the named budget, in dir (empty: NotebookDir)
// on the built-in lean world and the shipped base model. It is the notebook's one setup call;
// every cell opens it again (GoNB runs each cell as a new program), which loads what earlier
// cells cached. Point dir at an OUT of `srppo reproduce` (e.g. ../runs/grid with budget "full"
// or "grid") to show that run without recomputing.
func OpenNotebook(budget, dir, backend string) (*Study, error) {
	if err := SetBackend(backend); err != nil {
		return nil, err
	}
	b, err := LookupBudget(budget)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		dir = NotebookDir(budget)
	}
	ws := Workspace{Dir: dir, Preset: "lean", Command: fmt.Sprintf("notebook 05 (budget %s)", budget), BudgetName: budget}
	return Open(context.Background(), ws, b)
}

// Build computes or loads every stage and fills the tables T0–T5 (what the tables, criteria
// and figure cells need; everything is cached after the stage cells ran).
func (s *Study) Build() error {
	if len(s.tables.T1) > 0 {
		return nil
	}
	if err := s.T0(); err != nil {
		return err
	}
	for _, n := range s.b.Ns {
		if err := s.RunN(n); err != nil {
			return err
		}
	}
	return nil
}

// Figure reads a figure written by Finish, by its path relative to the figures folder (as
// Tables.Figures lists them).
func (s *Study) Figure(rel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.ws.Dir, FiguresDir, rel))
}

// NewNotebookWith is the setup call of notebooks 01–04: it selects the backend (see SetBackend)
// and returns their shared state, small (full = false, what CI executes) or at the design's
// sizes.
func NewNotebookWith(full bool, backend string) (*Notebook, error) {
	if err := SetBackend(backend); err != nil {
		return nil, err
	}
	return NewNotebook(full), nil
}
