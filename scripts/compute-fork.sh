#!/usr/bin/env bash
# Checks the patched GoMLX backend in third_party/compute against the release it was copied from
# (github.com/gomlx/compute v0.1.2, fetched from the module proxy into the module cache): every file
# that differs must be named in third_party/compute/GOSRPPO_PATCHES.md, and the patched packages'
# own tests must pass in both builds. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
fork=third_party/compute
version=$(sed -n 's|^replace github.com/gomlx/compute \(v[^ ]*\) => ./third_party/compute$|\1|p' go.mod)
[ -n "$version" ] || { echo "compute-fork.sh: go.mod has no 'replace github.com/gomlx/compute vX => ./third_party/compute'" >&2; exit 1; }
orig=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/gomlx/compute@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$orig" ] || { echo "compute-fork.sh: could not fetch github.com/gomlx/compute@$version" >&2; exit 1; }
changed=$({ diff -rq "$orig" "$fork" || true; } | sed -n \
  -e "s|^Files $orig/\(.*\) and $fork/.* differ$|\1|p" \
  -e "s|^Only in $fork\(/[^:]*\)\?: \(.*\)$|\1/\2|p" -e "s|^Only in $orig\(/[^:]*\)\?: \(.*\)$|\1/\2 (deleted)|p" \
  | sed 's|^/||')
missing=0
for f in $changed; do
  [ "$f" = "(deleted)" ] && continue
  [ "$f" = GOSRPPO_PATCHES.md ] && continue
  grep -qF "\`$f\`" "$fork/GOSRPPO_PATCHES.md" || { echo "compute-fork.sh: $fork/$f differs from $version but GOSRPPO_PATCHES.md does not name it" >&2; missing=1; }
done
[ "$missing" = 0 ] || exit 1
echo "compute-fork.sh: $fork = github.com/gomlx/compute $version + $(echo "$changed" | grep -vc '^GOSRPPO_PATCHES.md$') changed files, each listed in GOSRPPO_PATCHES.md"
# The patched packages' tests, in the simd build (the default) and the plain one.
pkgs=$(echo "$changed" | grep '\.go$' | xargs -r -n1 dirname | sort -u | sed 's|^|./|')
# GOSRPPO_ALL_FLOAT32=1: the exact float32 tanh, exp and sqrt are checked on every float32 input (4 min on 2 cores).
(cd "$fork" && GOSRPPO_ALL_FLOAT32=1 go test -count=1 -timeout 20m $pkgs && GOEXPERIMENT= go test -count=1 $pkgs)
