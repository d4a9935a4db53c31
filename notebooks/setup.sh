#!/usr/bin/env bash
# Installs what the gosrppo notebooks need on a Debian machine with Go (bookworm or trixie):
#
#   * Debian's Jupyter packages: jupyter-nbconvert python3-nbclient jupyter-client (enough to
#     execute notebooks headlessly), plus jupyter-notebook (the browser UI) with --ui;
#   * GoNB and goimports at the versions pinned in tools/go.mod (and gopls with --ui, for
#     completion in the UI, at the version tools/go.mod names), built into $GOBIN (default:
#     notebooks/.bin);
#   * the GoNB kernel ("Go (gonb)") into $JUPYTER_DATA_DIR (default: ~/.local/share/jupyter),
#     with a PATH in its kernel.json that finds go and goimports, so `jupyter notebook` needs no
#     PATH set up.
#
# Usage: bash notebooks/setup.sh [--ui] [--raw-error]
#   --ui         also install the notebook UI (jupyter-notebook) and gopls
#   --raw-error  install the kernel with --raw_error (plain-text compile errors; used by CI)
# Then: jupyter notebook notebooks/
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."
repo=$PWD

ui=false raw=false
for arg in "$@"; do
  case $arg in
    --ui) ui=true ;;
    --raw-error) raw=true ;;
    -h|--help) sed -n '2,16p' "$self"; exit 0 ;;
    *) echo "setup.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

export PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null || { echo "setup.sh: go not found (install Go ≥ 1.26 first)" >&2; exit 1; }

# 1. Jupyter from Debian packages (/usr/bin/python3's modules; a pyenv python3 on PATH is not used).
pkgs=()
/usr/bin/python3 -c 'import nbconvert, nbclient, jupyter_client' 2>/dev/null && command -v jupyter-nbconvert >/dev/null ||
  pkgs+=(jupyter-nbconvert python3-nbclient jupyter-client)
if $ui && ! command -v jupyter-notebook >/dev/null; then pkgs+=(jupyter-notebook); fi
if [ ${#pkgs[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup.sh: apt-get install ${pkgs[*]}"
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# 2. GoNB + goimports (+ gopls) pinned by tools/go.mod. `go install …@version` does not work for
# GoNB behind proxies that refuse version listing; building from the tools module does.
export GOBIN="${GOBIN:-$repo/notebooks/.bin}"
mkdir -p "$GOBIN"
(cd tools && go install github.com/janpfeifer/gonb golang.org/x/tools/cmd/goimports)
if $ui; then
  # gopls (completion in the UI) is built from its own go.mod at the version tools/go.mod names: it
  # does not compile against the golang.org/x/tools that the tools module selects for goimports.
  gopls_version=$(cd tools && go list -m -f '{{.Version}}' golang.org/x/tools/gopls)
  (cd / && go install "golang.org/x/tools/gopls@$gopls_version") ||
    echo "setup.sh: gopls $gopls_version did not build; the notebooks work without it (no completion)" >&2
fi
export PATH="$GOBIN:$PATH"

# 3. The kernel. --force_deps: gopls (completion only) is optional.
args=(--install --force_deps)
$raw && args+=(--raw_error)
gonb "${args[@]}" >/dev/null 2>&1 || { gonb "${args[@]}"; exit 1; }
kdir="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}/kernels/gonb"
GONB_PATH="$GOBIN:$(go env GOROOT)/bin:/usr/local/bin:/usr/bin:/bin" /usr/bin/python3 - "$kdir/kernel.json" <<'PY'
import json, os, sys
path = sys.argv[1]
with open(path) as f:
    spec = json.load(f)
spec.setdefault("env", {})["PATH"] = os.environ["GONB_PATH"]
with open(path, "w") as f:
    json.dump(spec, f)
PY
kernels=$(jupyter kernelspec list 2>/dev/null || true)  # not piped into grep -q: pipefail + SIGPIPE
grep -q ' gonb ' <<<"$kernels" || { echo "setup.sh: gonb kernel not listed by jupyter kernelspec list" >&2; exit 1; }
echo "setup.sh: GoNB $(go version -m "$GOBIN/gonb" | awk '$1 == "mod" {print $3}') kernel installed in $kdir (tools in $GOBIN)"
