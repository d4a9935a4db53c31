#!/usr/bin/env bash
# Notebook checker: installs Jupyter, GoNB and goimports (notebooks/setup.sh), then executes every
# notebook headlessly with the GoNB kernel on the pure-Go backend with the small config, and fails
# on an error output, a failed shell line, a missing figure or a notebook over its time budget
# (notebooks/notebooks_test.go). Used by .ci/run; also fine to run by hand.
#
#   bash notebooks/check.sh                         # all notebooks
#   NOTEBOOK_OUT=/tmp/nb bash notebooks/check.sh    # keep the executed notebooks in /tmp/nb
#   bash notebooks/check.sh -run 'TestNotebooks/03' # only notebook 03 (extra args go to go test)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
start=$(date +%s)

# Throw-away Jupyter data dir (the kernelspec, installed with --raw_error so that compile errors are
# plain text) and a fresh TMPDIR (GoNB's scratch modules and gonb/cache): nothing from an earlier
# run or from the user's own Jupyter setup is used.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export JUPYTER_DATA_DIR="$scratch/jupyter"
export GOBIN="${GOBIN:-$PWD/notebooks/.bin}"
bash notebooks/setup.sh --raw-error
export PATH="$GOBIN:$PATH"
mkdir -p "$scratch/tmp"
export TMPDIR="$scratch/tmp"
export GOSRPPO_NOTEBOOK_WORK="$scratch/work"

# Warm the Go build cache once: the first GoNB cell that imports the library would otherwise
# compile GoMLX inside a notebook's time budget.
t=$(date +%s)
go build ./...
echo "check.sh: go build ./... (warming the build cache) took $(( $(date +%s) - t )) s"

status=0
NOTEBOOK_TESTS=1 go test -count=1 -timeout 40m -v "$@" ./notebooks/ || status=$?
echo "check.sh: $( ((status == 0)) && echo passed || echo FAILED ) in $(( $(date +%s) - start )) s"
exit "$status"
