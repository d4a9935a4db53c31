#!/usr/bin/env bash
# Lints docker/Dockerfile and docker/Dockerfile.cuda with dockerfile-utils (pinned, with its
# dependencies, by docker/lint/package-lock.json). Installs it with `npm ci` into a temporary
# directory that is removed afterwards; nothing is written into the repository.
#
# Exit status: 0 when both files have no diagnostics at all; 1 on any error *or warning*; 2 when the
# linter cannot be installed or run. Needs node and npm (the npm registry must be reachable).
#
#   bash docker/lint.sh                   # the two Dockerfiles
#   bash docker/lint.sh path/Dockerfile   # others
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  files=("${here}/Dockerfile" "${here}/Dockerfile.cuda")
fi

for tool in node npm; do
  if ! command -v "${tool}" >/dev/null 2>&1; then
    echo "docker/lint.sh: ${tool} is not installed" >&2
    exit 2
  fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
cp "${here}/lint/package.json" "${here}/lint/package-lock.json" "${tmp}/"
if ! npm ci --prefix "${tmp}" --no-audit --no-fund --loglevel=error >"${tmp}/npm.log" 2>&1; then
  cat "${tmp}/npm.log" >&2
  echo "docker/lint.sh: npm ci of dockerfile-utils failed" >&2
  exit 2
fi
linter="${tmp}/node_modules/.bin/dockerfile-utils"

status=0
for f in "${files[@]}"; do
  # --json prints one array of diagnostics; the linter's own exit status only counts errors.
  if ! json="$("${linter}" lint --json "${f}")" && [ -z "${json}" ]; then
    echo "docker/lint.sh: dockerfile-utils failed on ${f}" >&2
    exit 2
  fi
  if ! LINT_FILE="${f}" LINT_JSON="${json}" node -e '
    const file = process.env.LINT_FILE;
    let diags;
    try { diags = JSON.parse(process.env.LINT_JSON); } catch (e) {
      console.error(`${file}: unreadable linter output: ${process.env.LINT_JSON}`);
      process.exit(2);
    }
    for (const d of diags) {
      const line = d.range.start.line + 1, col = d.range.start.character + 1;
      console.log(`${file}:${line}:${col}: ${d.severity}: ${d.message}`);
    }
    process.exit(diags.length === 0 ? 0 : 1);
  '; then
    status=1
  else
    echo "${f}: ok"
  fi
done

if [ "${status}" -ne 0 ]; then
  echo "docker/lint.sh: Dockerfile lint found problems (warnings count as failures)" >&2
fi
exit "${status}"
