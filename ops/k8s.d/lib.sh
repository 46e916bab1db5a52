# shellcheck shell=bash
# ops/k8s: paths, versions, messages and step timing shared by the subcommands.

# Versions of everything ops/k8s installs. The Go tools' versions are pinned in
# ops/k8s.d/tools/*/go.mod (with go.sum); these name the other artefacts.
KUBERNETES_VERSION=1.37.2
PROMETHEUS_OPERATOR_VERSION=v0.85.0
KUBECONFORM_MODULE_VERSION=v0.8.0
KWOK_MODULE_VERSION=v0.8.0

K8S_D="$ROOT/ops/k8s.d"
CHART="$ROOT/charts/ioc"
K8S_CACHE="${IOC_CACHE_DIR:-$HOME/.cache/ioc}/k8s"
BIN="$K8S_CACHE/bin"
# Go's, Maven's and pip's caches live in ours, so a fresh cache is a fresh machine and
# `rm -rf` of it is a complete reset.
export GOMODCACHE="$K8S_CACHE/go/mod"
export GOCACHE="$K8S_CACHE/go/build"
export GOPATH="$K8S_CACHE/go/path"
export GOFLAGS="-mod=readonly -trimpath"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export PIP_CACHE_DIR="$K8S_CACHE/pip"
# Other Kubernetes clients on the machine must not see our test cluster, nor we theirs.
unset KUBECONFIG HELM_KUBECONTEXT
export HELM_CACHE_HOME="$K8S_CACHE/helm/cache" HELM_CONFIG_HOME="$K8S_CACHE/helm/config" HELM_DATA_HOME="$K8S_CACHE/helm/data"

say() { printf 'ops/k8s: %s\n' "$*" >&2; }
die() { printf 'ops/k8s: error: %s\n' "$*" >&2; exit 1; }

# Step timing: `step_begin NAME`, `step_end`; the table is printed before the summary line.
STEP_NAMES=()
STEP_SECONDS=()
STEP_CURRENT=""
STEP_STARTED=0
step_begin() {
  STEP_CURRENT="$1"
  STEP_STARTED=$SECONDS
  say "== $1"
}
step_end() {
  STEP_NAMES+=("$STEP_CURRENT")
  STEP_SECONDS+=($((SECONDS - STEP_STARTED)))
  STEP_CURRENT=""
}
print_timings() {
  local i
  for i in "${!STEP_NAMES[@]}"; do
    printf 'ops/k8s:   %-58s %5ss\n' "${STEP_NAMES[$i]}" "${STEP_SECONDS[$i]}" >&2
  done
}

# Findings: validate collects them and fails at the end, so one run reports all of them.
FINDINGS=()
finding() {
  FINDINGS+=("$*")
  printf 'ops/k8s: FINDING: %s\n' "$*" >&2
}

require_command() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is missing; $2"
}

# The sha256 of files, to tell whether a build or generation is up to date.
fingerprint() { cat "$@" | sha256sum | cut -c1-16; }

# Runs "$@" with its output in a log file; on failure shows the log's end and stops.
run_logged() {
  local log="$1"
  shift
  mkdir -p "$(dirname "$log")"
  if ! "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "'$*' failed (full log: $log)"
  fi
}
