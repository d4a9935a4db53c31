#!/usr/bin/env bash
# The sharded study on a real Slurm, checked against a single-process run.
#
#   bash scripts/slurm/test.sh      # as root on a Debian machine with Go (installs slurm-wlm and munge)
#
# 1. builds srppo once; starts a one-node Slurm cluster (scripts/slurm/local-cluster.sh) with its own
#    state directory, stopped again on exit whatever happens;
# 2. checks the cluster itself: a 4-task array and a job depending on it (afterok) all run, the wait
#    polls squeue (accounting is off);
# 3. checks that srppo has the -shard flag, and stops here ("sharding not yet implemented") if not;
# 4. runs `srppo reproduce -budget smoke -out out` in one process (in WORK/single), and the same
#    through scripts/slurm/submit.sh as an array of SRPPO_TASKS (3) one-CPU workers plus the render
#    job (in WORK/sharded): the commands are the same string, so the outputs must be the same bytes;
# 5. compares tables.md, tables.json without its "seconds" (wall times) and "invocations",
#    RESULTS.md without the invocation list and the wall-time sentence, every cached stage result
#    (stages/*.json; the stage times stages/*.seconds aside) and every figure, byte for byte.
# It prints the time of each step. WORK is a fresh directory under /tmp (SRPPO_SLURM_TEST_DIR to
# choose it), removed on success unless SRPPO_KEEP=1.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
tasks=${SRPPO_TASKS:-3}
budget=${SRPPO_TEST_BUDGET:-smoke}
work=${SRPPO_SLURM_TEST_DIR:-$(mktemp -d /tmp/srppo-slurm-test.XXXXXX)}
mkdir -p "$work"
chmod 0755 "$work" # munged wants its socket's directories searchable by all
work=$(cd "$work" && pwd)
export SRPPO_SLURM_DIR=$work/cluster
# Ports of its own, so that a cluster started by hand (default 6817/6818) can keep running.
export SRPPO_SLURM_PORT=${SRPPO_SLURM_PORT:-6827}
cluster=$repo/scripts/slurm/local-cluster.sh
bin=$work/srppo
times=()

say() { echo "slurm test: $*"; }
fail() { echo "slurm test: FAIL: $*" >&2; exit 1; }
# timed LABEL CMD…: runs CMD and records its wall time under LABEL.
timed() {
  local label=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  times+=("$(printf '%-34s %7.1f s' "$label" "$(echo "$t1 - $t0" | bc)")")
}
report_times() {
  [ ${#times[@]} -gt 0 ] || return 0
  say "times:"
  printf '  %s\n' "${times[@]}"
}
cleanup() {
  local rc=$?
  timed "cluster stop" bash "$cluster" stop >/dev/null 2>&1 || true
  report_times
  if [ $rc -eq 0 ] && [ "${SRPPO_KEEP:-0}" != 1 ]; then rm -rf "$work"; else say "work directory kept: $work"; fi
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || fail "run as root (the local cluster's daemons run as root)"
command -v bc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bc >/dev/null; }

# 1. Build once; start the cluster.
timed "build srppo" bash -c "cd '$repo' && go build -o '$bin' ./cmd/srppo"
timed "cluster start" bash "$cluster" start
eval "$(bash "$cluster" env)"

# 2. The cluster runs arrays and dependencies.
check_cluster() {
  local d=$work/cluster-check a b
  mkdir -p "$d"
  # shellcheck disable=SC2016 # the job's shell expands these
  a=$(sbatch --parsable --chdir="$d" --array=0-3 --cpus-per-task=1 -o "$d/task-%a.out" \
    --wrap 'echo "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" > "done-$SLURM_ARRAY_TASK_ID"')
  b=$(sbatch --parsable --chdir="$d" --dependency="afterok:${a%%;*}" --kill-on-invalid-dep=yes -o "$d/after.out" \
    --wrap 'ls done-* | wc -l > after')
  a=${a%%;*} b=${b%%;*}
  local t0=$SECONDS
  while [ -n "$(squeue -h -j "$a,$b" -o %i)" ]; do
    [ $((SECONDS - t0)) -lt 120 ] || fail "array $a / job $b still queued after 120 s: $(squeue -j "$a,$b")"
    sleep 1
  done
  for i in 0 1 2 3; do
    [ "$(cat "$d/done-$i" 2>/dev/null)" = "$i/4" ] || fail "array task $i did not run (or saw no SLURM_ARRAY_TASK_COUNT)"
  done
  [ "$(cat "$d/after" 2>/dev/null)" = 4 ] || fail "the afterok job did not run after all 4 tasks"
  [ "$(grep -c 'JobState=COMPLETED' "$SRPPO_SLURM_DIR/jobcomp.txt")" -ge 5 ] || fail "jobcomp.txt lacks 5 completed jobs"
  say "cluster ok: array $a ran 4 tasks, job $b ran after them"
}
timed "cluster check (array + afterok)" check_cluster

# 3. Sharding exists?
help=$("$bin" reproduce -h 2>&1 || true)
if ! grep -qE '^ +-shard\b' <<<"$help"; then
  fail "sharding not yet implemented: \`srppo reproduce -h\` lists no -shard flag (it lands with the study package)"
fi

# 4. One process, then the array; the same command string in both directories.
mkdir -p "$work/single" "$work/sharded"
single() { (cd "$work/single" && "$bin" reproduce -budget "$budget" -out out >reproduce.log 2>&1) || fail "single-process run failed: $work/single/reproduce.log"; }
timed "single-process $budget" single
sharded() {
  (cd "$work/sharded" && SRPPO_BIN=$bin SRPPO_TASKS=$tasks SRPPO_CPUS=1 SRPPO_WAIT=1 SRPPO_POLL=2 \
    bash "$repo/scripts/slurm/submit.sh" -budget "$budget" -out out) || fail "sharded run failed: logs in $work/sharded/out/slurm/logs"
}
timed "sharded $budget ($tasks tasks + render)" sharded

# 5. Same bytes.
a=$work/single/out b=$work/sharded/out
cmp "$a/tables.md" "$b/tables.md" || fail "tables.md differ"
# The times and the invocation list (their start times, the workers) say how, not what.
noseconds() { sed '/^  "seconds": {$/,/^  }/d; /^  "invocations": \[$/,/^  \]/d' "$1"; }
cmp <(noseconds "$a/tables.json") <(noseconds "$b/tables.json") || fail "tables.json differ (seconds and invocations aside)"
# The invocation list and the wall-time sentence say how the directory was computed, not what.
noinvocations() { sed -E '/^- ([0-9]{4}-[0-9]{2}-[0-9]{2}T|earlier invocation)/d; s/ Wall time: .*$//' "$1"; }
cmp <(noinvocations "$a/RESULTS.md") <(noinvocations "$b/RESULTS.md") || fail "RESULTS.md differ (invocations and wall time aside)"
diff -r -x seconds.json -x '*.seconds' "$a/stages" "$b/stages" >/dev/null || fail "cached stage results differ: diff -r -x seconds.json -x '*.seconds' $a/stages $b/stages"
diff -r "$a/figures" "$b/figures" >/dev/null || fail "figures differ: diff -r $a/figures $b/figures"
say "PASS: $tasks Slurm array tasks + render reproduce the single-process $budget run byte for byte (tables.md, tables.json, RESULTS.md, $(find "$a/stages" -name '*.json' | wc -l) stage files, $(find "$a/figures" -type f | wc -l) figures)"
