#!/usr/bin/env bash
# Submit the study to Slurm: a job array of workers that share its stages, then one render job.
#
#   bash scripts/slurm/submit.sh -budget grid -out /shared/runs/grid [more `srppo reproduce` flags]
#
# The arguments are `srppo reproduce` flags and must include -out, a directory on a filesystem every
# node sees (NFS, Lustre, GPFS, BeeGFS …: stages are claimed through lock files there). The script
#  1. builds srppo once, into OUT/slurm/srppo (skipped with SRPPO_BIN=/path/to/srppo),
#  2. submits scripts/slurm/reproduce.sbatch as an array of SRPPO_TASKS tasks: task I runs
#     `srppo reproduce FLAGS -shard I/N`,
#  3. submits the same script once more with --dependency=afterok:<array> (no -shard): it finds every
#     stage cached and writes OUT/tables.md, tables.json, RESULTS.md and figures/,
#  4. writes the job ids to OUT/slurm/jobs.env; logs go to OUT/slurm/logs/.
# Jobs run in the current directory (a relative -out is relative to it).
#
# Settings (environment variables):
#   SRPPO_TASKS=4          array tasks (workers); more than the study's independent stages is waste
#   SRPPO_MAX_RUNNING=     at most this many tasks at once (--array=0-N%K)
#   SRPPO_PARTITION=       partition (-p); empty: the cluster's default
#   SRPPO_CPUS=2           CPUs per task (GOMAXPROCS follows it)
#   SRPPO_MEM=             memory per task, e.g. 8G (the smoke/quick/grid budgets need < 1G per task)
#   SRPPO_TIME=            time limit per task, e.g. 04:00:00
#   SRPPO_GPU=0            1: a GPU per task (--gres=gpu:1), build with -tags xla (cgo: a C compiler
#                          where you submit), GOMLX_BACKEND=xla:cuda unless set. Nothing is downloaded
#                          at run time: the PJRT CUDA plugin must be installed where the nodes see it,
#                          or named by path, e.g. GOMLX_BACKEND=xla:/shared/jax_plugins/xla_cuda13/xla_cuda_plugin.so
#                          (README, Backends; bench/gpu/gpubench.sh uses the plugin of a pip-installed JAX)
#   SRPPO_GRES=gpu:1       the --gres request when SRPPO_GPU=1 (e.g. gpu:h100:1)
#   SRPPO_SBATCH_ARGS=     more sbatch options for every job (word-split), e.g. "--account=proj --qos=short"
#   SRPPO_RENDER_AFTER=afterok   afterany renders even if a worker failed (the render then computes
#                          whatever stage is missing itself, in one process)
#   SRPPO_BIN=             a prebuilt srppo binary on the shared filesystem (no build)
#   SRPPO_WAIT=0           1: wait until the jobs have finished and exit non-zero unless the render
#                          job succeeded (polls squeue every SRPPO_POLL=10 seconds; no sacct needed)
#   GOMLX_BACKEND          passed to the jobs as set here (SRPPO_GPU=1 sets xla:cuda if unset)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "submit.sh: $*" >&2; exit 1; }

tasks=${SRPPO_TASKS:-4}
cpus=${SRPPO_CPUS:-2}
gpu=${SRPPO_GPU:-0}
after=${SRPPO_RENDER_AFTER:-afterok}
poll=${SRPPO_POLL:-10}
[[ $tasks =~ ^[1-9][0-9]*$ ]] || die "SRPPO_TASKS=$tasks: want a positive integer"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "SRPPO_CPUS=$cpus: want a positive integer"
case $after in afterok | afterany) ;; *) die "SRPPO_RENDER_AFTER=$after: want afterok or afterany" ;; esac

# The output directory, from the reproduce flags.
out=
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    -out | --out) out=${args[i + 1]:-} ;;
    -out=* | --out=*) out=${args[i]#*=} ;;
    -shard | --shard | -shard=* | --shard=*) die "do not pass -shard: each array task adds its own" ;;
  esac
done
[ -n "$out" ] || die "usage: submit.sh -out DIR [-budget grid] [srppo reproduce flags] (see the comment at the top)"
command -v sbatch >/dev/null || die "sbatch not found: run on a Slurm login node (or: bash scripts/slurm/local-cluster.sh start; eval \"\$(bash scripts/slurm/local-cluster.sh env)\")"
mkdir -p "$out/slurm/logs"
slurmdir=$(cd "$out/slurm" && pwd)

# 1. The binary, built once for every task.
tags=()
if [ "$gpu" = 1 ]; then
  tags=(-tags xla)
  export GOMLX_BACKEND=${GOMLX_BACKEND:-xla:cuda}
fi
if [ -n "${SRPPO_BIN:-}" ]; then
  bin=$(cd "$(dirname "$SRPPO_BIN")" && pwd)/$(basename "$SRPPO_BIN")
  [ -x "$bin" ] || die "SRPPO_BIN=$SRPPO_BIN is not an executable"
else
  bin=$slurmdir/srppo
  echo "submit.sh: building $bin ${tags[*]}"
  # Build beside it and rename: tasks of an earlier submission may still be running the old binary.
  (cd "$repo" && go build "${tags[@]}" -o "$bin.tmp.$$" ./cmd/srppo)
  mv -f "$bin.tmp.$$" "$bin"
fi
help=$("$bin" reproduce -h 2>&1 || true)
if ! grep -qE '^ +-shard\b' <<<"$help"; then
  die "$bin has no -shard flag: sharding not yet implemented (it lands with the study package)"
fi

# 2. and 3. The array, then the render job after it.
common=(--chdir="$PWD" --export=ALL --cpus-per-task="$cpus")
[ -n "${SRPPO_PARTITION:-}" ] && common+=(--partition="$SRPPO_PARTITION")
[ -n "${SRPPO_MEM:-}" ] && common+=(--mem="$SRPPO_MEM")
[ -n "${SRPPO_TIME:-}" ] && common+=(--time="$SRPPO_TIME")
[ "$gpu" = 1 ] && common+=(--gres="${SRPPO_GRES:-gpu:1}")
# shellcheck disable=SC2206
[ -n "${SRPPO_SBATCH_ARGS:-}" ] && common+=($SRPPO_SBATCH_ARGS)
range=0-$((tasks - 1))${SRPPO_MAX_RUNNING:+%$SRPPO_MAX_RUNNING}

array=$(sbatch --parsable "${common[@]}" --array="$range" --job-name=srppo-shard \
  --output="$slurmdir/logs/shard-%A_%a.out" "$here/reproduce.sbatch" "$bin" "$@")
array=${array%%;*}
# --kill-on-invalid-dep: if a worker fails, the render job is cancelled instead of pending forever.
render=$(sbatch --parsable "${common[@]}" --dependency="$after:$array" --kill-on-invalid-dep=yes \
  --job-name=srppo-render --output="$slurmdir/logs/render-%j.out" "$here/reproduce.sbatch" "$bin" "$@")
render=${render%%;*}
cat >"$slurmdir/jobs.env" <<EOF
ARRAY_JOB=$array
RENDER_JOB=$render
TASKS=$tasks
SUBMITTED=$(date -u +%FT%TZ)
EOF
echo "submit.sh: array job $array ($tasks tasks), render job $render ($after); logs in $slurmdir/logs, ids in $slurmdir/jobs.env"

[ "${SRPPO_WAIT:-0}" = 1 ] || exit 0

# 5. Wait without accounting: poll the queue until both jobs have left it, then ask how they ended
# (sacct when accounting is on; else scontrol, which keeps a finished job for MinJobAge seconds).
while [ -n "$(squeue -h -j "$array,$render" -o %i 2>/dev/null)" ]; do sleep "$poll"; done
state() {
  local s
  s=$(sacct -n -X -P -j "$1" -o State 2>/dev/null | sort -u | tr '\n' ' ') || true
  [ -n "${s// /}" ] || s=$(scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | sort -u | tr '\n' ' ') || true
  echo "${s:-unknown}"
}
echo "submit.sh: array $array: $(state "$array"); render $render: $(state "$render")"
# The render's own log says whether it finished, whatever the batch system still remembers.
if grep -q '] done; tables in' "$slurmdir/logs/render-$render.out" 2>/dev/null; then
  echo "submit.sh: rendered; see $slurmdir/logs/render-$render.out"
  exit 0
fi
echo "submit.sh: the render job did not finish; the last lines of this submission's logs:" >&2
for f in "$slurmdir/logs/shard-${array}_"*.out "$slurmdir/logs/render-$render.out"; do
  [ -f "$f" ] && { echo "== $f" && tail -n 5 "$f"; } >&2
done
exit 1
