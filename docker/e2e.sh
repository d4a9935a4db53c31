#!/usr/bin/env bash
# End-to-end check of the notebook images on a machine with nothing but Debian and Go (as root):
#
#   1. a Docker engine: uses the running one, or installs Debian's docker.io and starts
#      `dockerd --iptables=false` itself (and stops only what it started);
#   2. stand-in base images under the exact names the Dockerfiles use, when no registry is
#      reachable: debian:<suite>-<date>-slim from `debootstrap --variant=minbase <suite>`, and
#      golang:<version>-<suite> = that Debian + the Go toolchain from the Go module proxy
#      (golang.org/toolchain@v0.0.1-go<version>.linux-amd64). Both carry the label
#      io.gosrppo.e2e.stand-in and are announced as stand-ins. The rootfs tarball and the toolchain
#      zip are cached (E2E_CACHE), the images stay in the engine, so re-runs skip this step;
#   3. builds the CPU image (docker/Dockerfile, tag gosrppo) and runs it as docker/README.md says:
#      tini is PID 1, the HEALTHCHECK turns healthy, JupyterLab answers on /api, the gonb kernel is
#      listed, and the notebook runs headless inside the container (jupyter nbconvert) with its
#      figures (tools/nbe2e check);
#   4. drives JupyterLab in Debian's headless Chromium (tools/nbe2e browser, chromedp): opens the
#      notebook, Run ▸ Run All Cells, waits for the kernel to go idle, fails on any error output or
#      a missing figure, and saves screenshots into docs/screenshots/;
#   5. builds docker/Dockerfile.cuda as far as this machine allows and reports the step that stops
#      and why; that build never fails the script (it needs PyPI for NVIDIA's wheels).
#
# Usage: bash docker/e2e.sh [options]
#   --notebook NAME   notebook in notebooks/ (default 03_ppo_step_by_step.ipynb)
#   --figure TEXT     a cell whose source contains TEXT must show an image (repeatable;
#                     default for notebook 03: plotting.TokenRewards, the per-token reward figure)
#   --figures N       image outputs the notebook must show, at least (default 3)
#   --no-browser      skip step 4          --no-cuda     skip step 5
#   --build-only      steps 1, 2 and the CPU build only
#   --ci              for .ci/run: passes when the image recipe is unchanged since the passing run
#                     recorded in docker/e2e.stamp, fails naming what changed otherwise
#                     (E2E_CI_RUN=1: runs the full check instead; see docker/README.md)
# Environment: E2E_CACHE (default ~/.cache/gosrppo-docker-e2e), DEBIAN_MIRROR (default: the
# Debian mirror of this machine's apt sources), NOTEBOOK_TIMEOUT (default 15m, per notebook run).
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."
repo=$PWD
export PATH="/usr/local/go/bin:$PATH"
t0=$(date +%s)

notebook=03_ppo_step_by_step.ipynb figures=3 browser=true cuda=true build_only=false ci=false
markers=()
while [ $# -gt 0 ]; do
  case $1 in
    --notebook) notebook=$2; shift ;;
    --figure) markers+=("$2"); shift ;;
    --figures) figures=$2; shift ;;
    --no-browser) browser=false ;;
    --no-cuda) cuda=false ;;
    --build-only) build_only=true ;;
    --ci) ci=true ;;
    -h|--help) sed -n '2,33p' "$self"; exit 0 ;;
    *) echo "e2e.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ -f "notebooks/$notebook" ] || { echo "e2e.sh: notebooks/$notebook does not exist" >&2; exit 2; }
if [ ${#markers[@]} -eq 0 ] && [ "$notebook" = 03_ppo_step_by_step.ipynb ]; then
  markers=(plotting.TokenRewards)
fi
stem=${notebook%.ipynb}

cache=${E2E_CACHE:-$HOME/.cache/gosrppo-docker-e2e}
mkdir -p "$cache"
log() { printf '\n=== e2e [%4d s] %s\n' $(( $(date +%s) - t0 )) "$*"; }
die() { echo "e2e.sh: $*" >&2; exit 1; }

# The image recipe: what the image is built from, minus the repository's other sources (the
# notebooks are checked on every CI run by notebooks/check.sh). docker/e2e.stamp records its digest
# after a passing run; --ci compares.
recipe_files=(docker/Dockerfile docker/Dockerfile.dockerignore docker/Dockerfile.cuda
  docker/Dockerfile.cuda.dockerignore docker/cuda-wheels.txt docker/check_cuda_wheels.py docker/e2e.sh
  go.mod go.sum tools/go.mod tools/go.sum tools/nbe2e/main.go)
recipe_digest() { cat "${recipe_files[@]}" | sha256sum | cut -c1-16; }
if $ci; then
  want=$(recipe_digest)
  have=$(sed -n 's/^recipe //p' docker/e2e.stamp 2>/dev/null || true)
  if [ "$want" = "$have" ]; then
    echo "e2e.sh --ci: the image recipe is unchanged since the end-to-end run recorded in docker/e2e.stamp:"
    sed 's/^/  /' docker/e2e.stamp
    exit 0
  fi
  if [ "${E2E_CI_RUN:-}" != 1 ]; then
    cat >&2 <<EOF
e2e.sh --ci: the image recipe (${recipe_files[*]})
changed since the end-to-end run recorded in docker/e2e.stamp (digest $want, stamp ${have:-none}).
CI does not build the images: on a fresh 2-core machine the run takes longer than CI's budget
(docker/README.md). Run 'bash docker/e2e.sh' as root on a Debian machine with Go (it starts its own
Docker engine) and commit the docker/e2e.stamp and docs/screenshots/ it writes; or set
E2E_CI_RUN=1 to run it here.
EOF
    exit 1
  fi
  echo "e2e.sh --ci: recipe digest $want differs from docker/e2e.stamp's '${have:-none}'; E2E_CI_RUN=1: running the full check"
fi

[ "$(id -u)" -eq 0 ] || die "run as root (it may install packages and start dockerd)"
[ "$(uname -m)" = x86_64 ] || die "the stand-in Go image is linux-amd64 only"

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "e2e.sh: apt-get install ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- 1. engine ----------------------------------------------------------------------------------
started_dockerd="" containers=() docker=(docker) tmp=$(mktemp -d)
cleanup() {
  local rc=$?
  for c in "${containers[@]}"; do "${docker[@]}" rm -f "$c" >/dev/null 2>&1 || true; done
  if [ -n "$started_dockerd" ]; then
    echo "e2e.sh: stopping the dockerd it started (pid $started_dockerd)"
    kill "$started_dockerd" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 1; done
  fi
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "1. Docker engine"
# A client that builds with BuildKit: docker with the buildx plugin, or Debian's docker.io 20.10
# client (/usr/bin/docker), whose BuildKit is built in (DOCKER_BUILDKIT=1).
if docker buildx version >/dev/null 2>&1; then
  docker=(docker)
else
  apt_install docker.io
  docker=(/usr/bin/docker)
fi
export DOCKER_BUILDKIT=1
if ! "${docker[@]}" info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || apt_install docker.io
  echo "e2e.sh: no engine running; starting dockerd --iptables=false (log: $cache/dockerd.log)"
  dockerd --iptables=false --ip6tables=false >"$cache/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 60); do "${docker[@]}" info >/dev/null 2>&1 && break; sleep 1; done
  "${docker[@]}" info >/dev/null 2>&1 || { tail -20 "$cache/dockerd.log" >&2; die "dockerd did not come up"; }
fi
echo "engine $("${docker[@]}" version --format '{{.Server.Version}}'), client $("${docker[@]}" version --format '{{.Client.Version}}')"

# --- 2. stand-in base images --------------------------------------------------------------------
log "2. base images"
deb_image=$(sed -n 's/^FROM \(debian:[^ ]*\).*/\1/p' docker/Dockerfile | head -1)
go_image=$(sed -n 's/^FROM \(golang:[^ ]*\).*/\1/p' docker/Dockerfile | head -1)
[[ $deb_image =~ ^debian:([a-z]+)-([0-9]{8})-slim$ ]] || die "unexpected Debian base '$deb_image' in docker/Dockerfile"
suite=${BASH_REMATCH[1]} date_tag=${BASH_REMATCH[2]}
[[ $go_image =~ ^golang:([0-9]+\.[0-9]+\.[0-9]+)-$suite$ ]] || die "unexpected Go base '$go_image' in docker/Dockerfile"
go_version=${BASH_REMATCH[1]}
label=io.gosrppo.e2e.stand-in

# existing IMAGE: 0 when the engine has IMAGE; says whether it is one of our stand-ins.
existing() {
  local l
  l=$("${docker[@]}" image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null) || return 1
  if [ -n "$l" ]; then echo "$1: STAND-IN already in the engine ($l)"; else echo "$1: in the engine (not a stand-in)"; fi
}

if ! existing "$deb_image"; then
  # The first Debian archive in this machine's apt sources (one-line or deb822 format).
  mirror=${DEBIAN_MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/\?$/\1/p; s/^deb \(http[^ ]*\/debian\)\/\? .*/\1/p' | head -1 || true)}
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs_tar="$cache/debian-$suite-minbase.tar"
  if [ ! -s "$rootfs_tar" ]; then
    apt_install debootstrap
    echo "e2e.sh: debootstrap --variant=minbase $suite from $mirror (the live archive: the pinned date $date_tag needs snapshot.debian.org)"
    debootstrap --variant=minbase "$suite" "$tmp/rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
      { tail -20 "$cache/debootstrap.log" >&2; die "debootstrap failed"; }
    # Like the official image: deb822 sources with updates and security, no package lists.
    rm -f "$tmp/rootfs/etc/apt/sources.list"
    cat >"$tmp/rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    rm -rf "$tmp"/rootfs/var/lib/apt/lists/* "$tmp"/rootfs/var/cache/apt/*.bin "$tmp"/rootfs/var/cache/apt/archives/*.deb
    tar --numeric-owner -C "$tmp/rootfs" -cf "$rootfs_tar.part" . && mv "$rootfs_tar.part" "$rootfs_tar"
    rm -rf "$tmp/rootfs"
  fi
  made="debootstrap --variant=minbase $suite from $mirror on $(date -u -r "$rootfs_tar" +%F)"
  "${docker[@]}" import "$rootfs_tar" "gosrppo-e2e/debian-rootfs:$suite" >/dev/null
  # This host's own trust anchors go along: where TLS to the Go module proxy passes an
  # intercepting proxy, the image's `go install` must trust its CA as the host does. The
  # Dockerfile's apt-get install ca-certificates adds them to the image's store.
  mkdir -p "$tmp/deb-ctx/cas"
  cp /usr/local/share/ca-certificates/*.crt "$tmp/deb-ctx/cas/" 2>/dev/null || true
  ncas=$(find "$tmp/deb-ctx/cas" -name '*.crt' | wc -l)
  [ "$ncas" -eq 0 ] || made="$made + this host's $ncas local CA certificates (/usr/local/share/ca-certificates)"
  printf 'FROM gosrppo-e2e/debian-rootfs:%s\nCOPY cas/ /usr/local/share/ca-certificates/\nLABEL %s="%s; not the official %s"\nCMD ["bash"]\n' \
    "$suite" "$label" "$made" "$deb_image" >"$tmp/deb-ctx/Dockerfile"
  "${docker[@]}" build -q -t "$deb_image" "$tmp/deb-ctx" >/dev/null
  rm -rf "$tmp/deb-ctx"
  echo "$deb_image: STAND-IN made ($made)"
  "${docker[@]}" rmi "$go_image" >/dev/null 2>&1 || true # built on the previous stand-in
fi

if ! existing "$go_image"; then
  toolchain="golang.org/toolchain@v0.0.1-go$go_version.linux-amd64"
  # go mod download checks the zip against the checksum database and keeps it in the module cache.
  zip=$(cd "$tmp" && GOFLAGS=-modcacherw go mod download -json "$toolchain" | sed -n 's/^\t"Zip": "\(.*\)",$/\1/p')
  [ -s "$zip" ] || die "go mod download $toolchain gave no zip"
  mkdir -p "$tmp/go-ctx"
  (cd "$tmp/go-ctx" && unzip -q "$zip" && mv "golang.org/toolchain@v0.0.1-go$go_version.linux-amd64" go && rmdir golang.org)
  # Module zips carry no file modes: the toolchain's programs must be made executable again.
  chmod 0755 "$tmp"/go-ctx/go/bin/* "$tmp"/go-ctx/go/pkg/tool/linux_amd64/*
  cat >"$tmp/go-ctx/Dockerfile" <<EOF
FROM $deb_image
COPY go /usr/local/go
ENV GOLANG_VERSION=$go_version GOTOOLCHAIN=local GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL $label="$deb_image (stand-in) + $toolchain from $(go env GOPROXY | cut -d, -f1); not the official $go_image"
WORKDIR /go
EOF
  "${docker[@]}" build -q -t "$go_image" "$tmp/go-ctx" >/dev/null
  rm -rf "$tmp/go-ctx"
  "${docker[@]}" run --rm --network none "$go_image" go version
  echo "$go_image: STAND-IN made ($toolchain)"
fi

# --- 3. the CPU image ---------------------------------------------------------------------------
log "3. docker build -f docker/Dockerfile -t gosrppo . (--network host: this dockerd runs without iptables, so only the host's network reaches the mirrors)"
tb=$(date +%s)
"${docker[@]}" build --network host -f docker/Dockerfile -t gosrppo . 2>&1 | tee "$cache/build-cpu.log" | grep -E '^#[0-9]+ (\[|DONE|CACHED|ERROR)|ERROR|error' || true
[ "${PIPESTATUS[0]}" -eq 0 ] || { tail -30 "$cache/build-cpu.log" >&2; die "the CPU image did not build (log: $cache/build-cpu.log)"; }
size=$("${docker[@]}" image inspect -f '{{.Size}}' gosrppo)
echo "CPU image gosrppo built in $(( $(date +%s) - tb )) s, $(( size / 1000000 )) MB"
if $build_only; then
  log "done (--build-only) in $(( $(date +%s) - t0 )) s"
  exit 0
fi

log "3. docker run (docker/README.md's command, detached, with a known token)"
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
name=gosrppo-e2e-$$
if ss -ltn 2>/dev/null | grep -q ':8888 '; then die "port 8888 is taken on this machine"; fi
# The default bridge network, as the README runs it: -p publishes the port. With --iptables=false
# the container has no way out, so this also shows that the image works offline; GOPROXY=off makes
# go fail at once instead of waiting for network timeouts (docker/README.md, "Offline").
"${docker[@]}" run -d --name "$name" -p 8888:8888 -e JUPYTER_TOKEN="$token" -e GOPROXY=off gosrppo >/dev/null
containers+=("$name")
api=http://127.0.0.1:8888

for _ in $(seq 60); do curl -fsS "$api/api" >/dev/null 2>&1 && break; sleep 1; done
echo "GET /api: $(curl -fsS "$api/api")"
pid1=$("${docker[@]}" exec "$name" cat /proc/1/cmdline | tr '\0' ' ')
echo "PID 1: $pid1"
[[ $pid1 == /usr/bin/tini* ]] || die "PID 1 is not tini: $pid1"
"${docker[@]}" exec "$name" python3 -c '
import os
kids = [p for p in os.listdir("/proc") if p.isdigit() and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1] == "1"]
cmds = [open(f"/proc/{p}/cmdline").read().replace("\0", " ") for p in kids]
print("children of PID 1:", cmds)
assert any("jupyter-lab" in c for c in cmds), "jupyter-lab is not a child of tini"
print("user:", os.getuid(), "home:", os.environ["HOME"], "cwd:", os.getcwd())
assert os.getuid() == 1000 and os.access("notebooks", os.W_OK), "not uid 1000 or notebooks/ not writable"
# docker/Dockerfile.dockerignore kept the checkout'"'"'s .git out of the build context.
assert not os.path.exists(".git"), ".git is in the image: Dockerfile.dockerignore was not applied"
'
specs=$(curl -fsS -H "Authorization: token $token" "$api/api/kernelspecs")
python3 -c 'import json,sys; s=json.loads(sys.argv[1])["kernelspecs"]; print("kernelspecs:", {k: v["spec"]["display_name"] for k, v in s.items()}); assert "gonb" in s, "gonb kernel not listed"' "$specs"
echo "waiting for the HEALTHCHECK (interval 30 s)"
for _ in $(seq 40); do
  health=$("${docker[@]}" inspect -f '{{.State.Health.Status}}' "$name")
  [ "$health" != starting ] && break
  sleep 3
done
echo "health: $health"
[ "$health" = healthy ] || die "the container is $health: $("${docker[@]}" inspect -f '{{json .State.Health}}' "$name")"

log "3. headless: jupyter nbconvert --execute notebooks/$notebook inside the container"
checker="$cache/nbe2e"
(cd tools && go build -o "$checker" ./nbe2e)
check_args=(-figures "$figures")
for m in "${markers[@]}"; do check_args+=(-figure "$m"); done
tn=$(date +%s)
"${docker[@]}" exec -e GOSRPPO_NOTEBOOK_WORK=/tmp/e2e-nbconvert-work "$name" timeout "${NOTEBOOK_TIMEOUT:-15m}" \
  jupyter nbconvert --to notebook --execute \
  --ExecutePreprocessor.kernel_name=gonb --ExecutePreprocessor.timeout=600 \
  "notebooks/$notebook" --output "/tmp/$stem.out.ipynb" 2>&1 | grep -vE '^[IWE][0-9]{4} ' | tail -5
[ "${PIPESTATUS[0]}" -eq 0 ] || die "nbconvert failed in the container"
"${docker[@]}" cp "$name:/tmp/$stem.out.ipynb" "$tmp/$stem.out.ipynb"
echo "nbconvert took $(( $(date +%s) - tn )) s"
"$checker" check "${check_args[@]}" "$tmp/$stem.out.ipynb"

if $browser; then
  log "4. JupyterLab in headless Chromium: notebooks/$notebook, Run All Cells"
  apt_install chromium
  tn=$(date +%s)
  "$checker" browser -url "$api" -token "$token" -notebook "notebooks/$notebook" "${check_args[@]}" \
    -screenshots docs/screenshots -timeout "${NOTEBOOK_TIMEOUT:-15m}"
  echo "browser run took $(( $(date +%s) - tn )) s; screenshots: $(ls docs/screenshots/"$stem"-*.png | tr '\n' ' ')"
fi
"${docker[@]}" rm -f "$name" >/dev/null
cpu_done=$(date +%s)

# --- 5. the CUDA image --------------------------------------------------------------------------
cuda_status="not tried (--no-cuda)"
if $cuda; then
  log "5. docker build -f docker/Dockerfile.cuda -t gosrppo-cuda . (as far as this machine allows)"
  if "${docker[@]}" build --network host -f docker/Dockerfile.cuda -t gosrppo-cuda . >"$cache/build-cuda.log" 2>&1; then
    cuda_status="built"
  else
    # BuildKit names the failing step "ERROR [stage n/m] RUN …"; the last lines say why.
    step=$(grep -m1 -oE 'ERROR: .*|------$' "$cache/build-cuda.log" | head -1)
    failed=$(grep -m1 -E '^#[0-9]+ ERROR|^ERROR|executor failed|did not complete successfully' "$cache/build-cuda.log" || true)
    stage=$(grep -oE '^#[0-9]+ \[[^]]+\] RUN .{0,90}' "$cache/build-cuda.log" | tail -1)
    why=$(grep -iE 'ERROR: (Could not|No matching)|Temporary failure|Network is unreachable|Failed to establish|Name or service' "$cache/build-cuda.log" | head -2 | tr '\n' ' ')
    cuda_status="stops at ${stage:-?}: ${why:-${failed:-$step}}"
  fi
  echo "CUDA image: $cuda_status (log: $cache/build-cuda.log)"
fi

log "done: CPU image built, run and checked in $(( cpu_done - t0 )) s; total $(( $(date +%s) - t0 )) s"
cat >docker/e2e.stamp <<EOF
recipe $(recipe_digest)
passed $(date -u +%FT%TZ) on $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- 2>/dev/null || echo '+changes'), notebooks/$notebook, image $(( size / 1000000 )) MB, CPU check $(( cpu_done - t0 )) s
cuda $cuda_status
EOF
echo "wrote docker/e2e.stamp"
