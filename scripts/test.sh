#!/usr/bin/env bash
# The project's test command (README): installs what the tests need on a fresh Debian machine
# with Go, then runs gofmt/vet, every Go test, the Dockerfile lint (dockerfile-utils from npm) and the
# notebook checker (Debian's Jupyter, GoNB from tools/go.mod).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt: these files need formatting:"; echo "$unformatted"; exit 1
fi
go vet ./...
go test -count=1 -timeout 25m ./...
bash docker/lint.sh
# The images: docker/e2e.sh builds and runs them for real, longer than CI's budget on a fresh machine
# (docker/README.md); this checks that docker/e2e.stamp, written by a passing run, matches the
# image recipe, and fails saying what to run when it does not.
bash docker/e2e.sh --ci
bash notebooks/check.sh
