#!/usr/bin/env bash
# Runs every fuzz target of the repository briefly (FUZZTIME each, default 2s): the file readers
# must never panic on any input (issue 17). Crashing inputs found here are written under the
# package's testdata/fuzz/ and replayed by every plain `go test` from then on. Input
# minimisation is off: it can take a minute per new input and CI only needs the crash itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
fuzztime="${FUZZTIME:-2s}"
for target in \
  datasets:FuzzReadJSONL datasets:FuzzWordTokenizer datasets:FuzzParseBPE datasets:FuzzLoadBPEFiles \
  srppo:FuzzDecodeSafetensors srppo:FuzzWordConfig srppo:FuzzGPT2Config srppo:FuzzReadMetrics; do
  pkg="./${target%%:*}" name="${target#*:}"
  echo "fuzz $pkg $name ($fuzztime)"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -fuzzminimizetime=0 "$pkg" | tail -n 1
done
