#!/usr/bin/env bash
# Runs every fuzz target of the repository briefly: the file readers must never panic on any
# input (issue 17). Crashing inputs found here are written under the package's testdata/fuzz/
# and replayed by every plain `go test` from then on.
#
# The budget is a count of executions (FUZZEXECS, default 4000), not a duration: a duration-based
# -fuzztime races a wall-clock deadline, and on a loaded 2-core CI machine the Go fuzz engine
# then reports a bare "context deadline exceeded" without any failing input (golang/go#75804;
# it failed our CI once). A run that fails without writing a reproducer is retried once; one
# that writes a reproducer fails at once, and its whole log is printed. Input minimisation is
# off: it can take a minute per new input and CI only needs the crash itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
execs="${FUZZEXECS:-4000}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in \
  datasets:FuzzReadJSONL datasets:FuzzWordTokenizer datasets:FuzzParseBPE datasets:FuzzLoadBPEFiles \
  srppo:FuzzDecodeSafetensors srppo:FuzzWordConfig srppo:FuzzGPT2Config srppo:FuzzReadMetrics; do
  pkg="./${target%%:*}" name="${target#*:}"
  for try in 1 2; do
    echo "fuzz $pkg $name (${execs} executions, try $try)"
    if go test -run='^$' -fuzz="^${name}\$" -fuzztime="${execs}x" -fuzzminimizetime=0 "$pkg" >"$log" 2>&1; then
      tail -n 1 "$log"
      break
    fi
    tail -n 40 "$log"
    if grep -q 'Failing input written to' "$log" || [ "$try" = 2 ]; then
      echo "fuzz: $name failed" >&2
      exit 1
    fi
    echo "fuzz: $name failed without a failing input (engine flake); retrying once" >&2
  done
done
