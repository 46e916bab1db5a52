# shellcheck shell=bash
# ops/k8s install: every tool built from the Go module proxy, the CRDs rebuilt from Maven Central
# and the Go module proxy, the JSON schemas generated with PyPI tools; each step skipped when
# its stamp (a fingerprint of what it was made from) is unchanged.

K8S_LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=v$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=${KUBERNETES_VERSION%%.*} -X k8s.io/component-base/version.gitMinor=$(cut -d. -f2 <<<"$KUBERNETES_VERSION")"
SCHEMAS="$K8S_CACHE/schemas"
CRDS="$K8S_CACHE/crds"

# up_to_date STAMP_FILE VALUE: whether STAMP_FILE holds VALUE.
up_to_date() { [[ -f "$1" ]] && [[ "$(cat "$1")" == "$2" ]]; }

# build_go_tool MODULE_DIR OUTPUT PACKAGE [LDFLAGS]
build_go_tool() {
  local module="$K8S_D/tools/$1" out="$BIN/$2" package="$3" ldflags="${4:--s -w}"
  local files=("$module/go.mod" "$module/go.sum")
  [[ -f "$module/main.go" ]] && files+=("$module/main.go")
  local stamp
  stamp="$(fingerprint "${files[@]}")-$(go env GOVERSION)-$(sha256sum <<<"$ldflags" | cut -c1-8)"
  if [[ -x "$out" ]] && up_to_date "$out.stamp" "$stamp"; then
    return
  fi
  say "building $2 from the Go module proxy ($1/go.mod)"
  local started=$SECONDS
  # Not -mod=readonly's fault when it fails here: go.sum is committed; a proxy outage is likely.
  (cd "$module" && go build -ldflags "$ldflags" -o "$out.tmp" "$package") >"$K8S_CACHE/logs/build-$2.log" 2>&1 || {
    tail -n 30 "$K8S_CACHE/logs/build-$2.log" >&2
    die "building $2 failed (log: $K8S_CACHE/logs/build-$2.log); is the Go module proxy reachable (go env GOPROXY)?"
  }
  mv "$out.tmp" "$out"
  echo "$stamp" >"$out.stamp"
  GO_BUILT_SOMETHING=1
  say "built $2 in $((SECONDS - started))s"
}
GO_BUILT_SOMETHING=0

install_go_tools() {
  require_command go "install Go 1.26 or newer (https://go.dev/doc/install or Debian's golang)"
  mkdir -p "$BIN" "$K8S_CACHE/logs"
  build_go_tool etcd etcd .
  build_go_tool kubeconform kubeconform github.com/yannh/kubeconform/cmd/kubeconform
  build_go_tool kube-score kube-score github.com/zegl/kube-score/cmd/kube-score
  build_go_tool helm4 helm4 helm.sh/helm/v4/cmd/helm
  # helm v3 takes its own version and the Kubernetes version it assumes (for kubeVersion checks
  # when no cluster is asked) from variables its release builds set; without them it says v3.22
  # and renders for Kubernetes 1.20. The values are those of its Makefile for its client-go.
  local helm3_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=v3.22.0"
  local pkg
  for pkg in pkg/lint/rules pkg/chartutil; do
    helm3_ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=37"
  done
  build_go_tool helm3 helm3 helm.sh/helm/v3/cmd/helm "$helm3_ldflags"
  build_go_tool kwok kwok sigs.k8s.io/kwok/cmd/kwok
  # Without the version variables the binaries say v0.0.0-master and kubeVersion checks fail.
  local component
  for component in kubectl kube-scheduler kube-controller-manager kube-apiserver; do
    build_go_tool kubernetes "$component" "k8s.io/kubernetes/cmd/$component" "$K8S_LDFLAGS"
  done
  # The compiled packages weigh about 6 GB and serve only a rebuild after a version bump in
  # ops/k8s.d/tools (rare): keep the binaries and the module downloads, drop them.
  if ((GO_BUILT_SOMETHING)); then
    go clean -cache
  fi
}

# module_dir MODULE@VERSION: the folder of a downloaded module (downloads it when missing).
module_dir() {
  (cd "$K8S_D/tools/kubernetes" && GOFLAGS=-mod=mod go mod download -json "$1") | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

install_python() {
  require_command python3 "install Python 3.11 or newer (Debian: python3 python3-venv)"
  local venv="$K8S_CACHE/venv" stamp
  stamp="$(fingerprint "$K8S_D/requirements.txt")"
  if [[ -x "$venv/bin/python" ]] && up_to_date "$venv/.stamp" "$stamp"; then
    return
  fi
  say "installing the schema generators from PyPI into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed; install Debian's python3-venv"
  run_logged "$K8S_CACHE/logs/pip.log" "$venv/bin/pip" install -r "$K8S_D/requirements.txt"
  echo "$stamp" >"$venv/.stamp"
}

# The Kubernetes API's JSON schemas, strict (unknown fields are errors), from the OpenAPI document
# of the very module the API server is built from.
install_kubernetes_schemas() {
  local out="$SCHEMAS/kubernetes-v$KUBERNETES_VERSION"
  if up_to_date "$out/.stamp" "v$KUBERNETES_VERSION-strict"; then
    return
  fi
  local dir
  dir="$(module_dir "k8s.io/kubernetes@v$KUBERNETES_VERSION")"
  [[ -f "$dir/api/openapi-spec/swagger.json" ]] || die "k8s.io/kubernetes@v$KUBERNETES_VERSION has no api/openapi-spec/swagger.json"
  say "generating the Kubernetes $KUBERNETES_VERSION JSON schemas (a few minutes, once)"
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  local log="$K8S_CACHE/logs/schemas-kubernetes.log"
  # The generator resolves its references under the current folder (an absolute -o loses its
  # leading slash), and exits 0 even when types fail: run it from the parent, read its log.
  # Known to fail, and not used by the chart: CustomResourceDefinition and JSONSchemaProps
  # ("not currently supported") and the recursive alpha Workload types. Any other failure stops
  # here; a schema the chart needs but lacks would also fail kubeconform ("could not find schema").
  (cd "$SCHEMAS" && run_logged "$log" "$K8S_CACHE/venv/bin/openapi2jsonschema2" \
    -o "$(basename "$out").tmp" --expanded --kubernetes --stand-alone --strict "file://$dir/api/openapi-spec/swagger.json")
  local unexpected
  unexpected="$(grep 'error occurred' "$log" | grep -Ev 'processing (customresourcedefinition|customresourcevalidation|jsonschemaprops|compositepodgrouptemplate|workload)[a-z]*:' || true)"
  if [[ -n "$unexpected" ]] || [[ "$(find "$out.tmp" -name '*.json' | wc -l)" -lt 700 ]] || [[ ! -s "$out.tmp/deployment-apps-v1.json" ]]; then
    head -5 <<<"$unexpected" >&2
    die "generating the Kubernetes JSON schemas failed (log: $log)"
  fi
  rm -rf "$out"
  mv "$out.tmp" "$out"
  echo "v$KUBERNETES_VERSION-strict" >"$out/.stamp"
}

# A JDK or JRE of at least 21 (Strimzi's class files are Java 21): JAVA_HOME, then /usr/lib/jvm.
find_java21() {
  local candidate version
  for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} /usr/lib/jvm/*/bin/java "$(command -v java || true)"; do
    [[ -x "$candidate" ]] || continue
    version="$("$candidate" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    if [[ "$version" =~ ^[0-9]+$ ]] && ((version >= 21)); then
      echo "$candidate"
      return
    fi
  done
  return 1
}

# Strimzi's CRDs, rebuilt by its crd-generator from the api jar (Maven Central has no CRD YAML).
install_strimzi_crds() {
  local out="$CRDS/strimzi" stamp
  stamp="$(fingerprint "$K8S_D/strimzi/pom.xml")"
  if up_to_date "$out/.stamp" "$stamp"; then
    return
  fi
  require_command mvn "install Maven (Debian: maven)"
  local java
  java="$(find_java21)" || die "Strimzi's crd-generator needs Java 21 or newer; install one (Debian: openjdk-21-jdk-headless or newer) or set JAVA_HOME"
  say "fetching Strimzi's api and crd-generator from Maven Central, generating its CRDs"
  local lib="$K8S_CACHE/strimzi/lib"
  rm -rf "$lib" "$out.tmp"
  mkdir -p "$out.tmp"
  run_logged "$K8S_CACHE/logs/strimzi-maven.log" mvn -B -q -f "$K8S_D/strimzi/pom.xml" \
    -Dmaven.repo.local="$K8S_CACHE/m2" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$lib"
  local model=io.strimzi.api.kafka.model
  run_logged "$K8S_CACHE/logs/strimzi-crdgen.log" "$java" -cp "$lib/*" io.strimzi.crdgenerator.CrdGenerator \
    --yaml --crd-api-version v1 --api-versions v1 --storage-version v1 \
    "$model.kafka.Kafka=$out.tmp/kafkas.yaml" \
    "$model.nodepool.KafkaNodePool=$out.tmp/kafkanodepools.yaml" \
    "$model.topic.KafkaTopic=$out.tmp/kafkatopics.yaml" \
    "$model.user.KafkaUser=$out.tmp/kafkausers.yaml"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  echo "$stamp" >"$out/.stamp"
}

# The Prometheus operator's CRDs, as its Go module ships them.
install_prometheus_crds() {
  local out="$CRDS/prometheus-operator"
  if up_to_date "$out/.stamp" "$PROMETHEUS_OPERATOR_VERSION"; then
    return
  fi
  say "fetching the Prometheus operator's CRDs ($PROMETHEUS_OPERATOR_VERSION) from the Go module proxy"
  local dir
  dir="$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"
  rm -rf "$out"
  mkdir -p "$out"
  cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
    "$dir/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" "$out/"
  chmod u+w "$out"/*.yaml
  echo "$PROMETHEUS_OPERATOR_VERSION" >"$out/.stamp"
}

# kubeconform's own converter turns the CRDs into JSON schemas ({group}-{kind}-{version}.json).
install_crd_schemas() {
  local out="$SCHEMAS/crds" stamp
  stamp="$(cat "$CRDS/strimzi/.stamp" "$CRDS/prometheus-operator/.stamp")"
  if up_to_date "$out/.stamp" "$stamp"; then
    return
  fi
  local converter
  converter="$(module_dir "github.com/yannh/kubeconform@$KUBECONFORM_MODULE_VERSION")/scripts/openapi2jsonschema.py"
  say "converting the CRDs into JSON schemas"
  rm -rf "$out"
  mkdir -p "$out"
  (cd "$out" && export FILENAME_FORMAT='{fullgroup}-{kind}-{version}' &&
    run_logged "$K8S_CACHE/logs/schemas-crds.log" "$K8S_CACHE/venv/bin/python" "$converter" \
    "$CRDS"/strimzi/*.yaml "$CRDS"/prometheus-operator/*.yaml)
  echo "$stamp" >"$out/.stamp"
}

install_all() {
  mkdir -p "$K8S_CACHE/logs"
  step_begin "install: Go tools (helm 3 and 4, kubeconform, kube-score, etcd, Kubernetes, kwok)"
  install_go_tools
  step_end
  step_begin "install: Python schema generators (PyPI)"
  install_python
  step_end
  step_begin "install: Kubernetes $KUBERNETES_VERSION JSON schemas"
  install_kubernetes_schemas
  step_end
  step_begin "install: Strimzi and Prometheus-operator CRDs and their schemas"
  install_strimzi_crds
  install_prometheus_crds
  install_crd_schemas
  step_end
}
