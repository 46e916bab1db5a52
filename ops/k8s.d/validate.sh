# shellcheck shell=bash
# ops/k8s validate: everything the chart is checked against, in four steps (ops/kubernetes.md,
# "What ops/k8s validate checks"). Findings are collected, so one run reports all of them; the
# last line says how it went and the exit status is non-zero on any finding.

# The chart's three sets of values, and ops/k8s.d/values-extras.yaml, which switches on every
# optional path they leave off (inline secrets, external Kafka with SCRAM and TLS, monitoring,
# Ingress for ingest, image digest, the canary's non-default settings, ...).
PROFILES=(default development production extras)
HELMS=(helm3 helm4)

# Checks of kube-score that the chart does not follow, each for a reason (ops/kubernetes.md):
# - container-image-pull-policy: it wants Always; the tags are immutable releases (or digests),
#   and Always would make every restart depend on the registry, which the IOC network may lose.
# - deployment-has-host-podantiaffinity: the Deployments spread with topologySpreadConstraints
#   (per node, and per zone), which kube-score checks separately (pod-topology-spread-constraints)
#   and which, unlike required anti-affinity, lets the autoscaler go beyond one pod per node.
KUBE_SCORE_SKIPPED=(container-image-pull-policy deployment-has-host-podantiaffinity)
# Optional checks switched on because the chart meets them.
KUBE_SCORE_OPTIONAL=(container-seccomp-profile container-ports-check)
# The development profile runs one replica of everything on purpose.
KUBE_SCORE_SKIPPED_DEVELOPMENT=(deployment-replicas)

profile_args() {
  case "$1" in
    default) ;;
    extras) printf '%s\n' -f "$K8S_D/values-extras.yaml" ;;
    *) printf '%s\n' -f "$CHART/values-$1.yaml" ;;
  esac
}

# Step 1: helm lint --strict and helm template, with both helms, for every profile; plus the
# guard rails (the schema refuses a typo, the chart refuses more processors than partitions).
check_render() {
  local helm profile args out
  mkdir -p "$WORK/rendered"
  for helm in "${HELMS[@]}"; do
    for profile in "${PROFILES[@]}"; do
      mapfile -t args < <(profile_args "$profile")
      if ! out="$("$BIN/$helm" lint --strict --kube-version "$KUBERNETES_VERSION" "$CHART" "${args[@]}" 2>&1)"; then
        finding "$helm lint --strict ($profile): $(grep -E '\[(ERROR|WARNING)\]|Error' <<<"$out" | head -5)"
      elif grep -qE '\[(ERROR|WARNING)\]' <<<"$out"; then
        finding "$helm lint --strict ($profile) warns: $(grep -E '\[(ERROR|WARNING)\]' <<<"$out" | head -5)"
      fi
      if ! "$BIN/$helm" template ioc "$CHART" --namespace ioc --kube-version "$KUBERNETES_VERSION" "${args[@]}" \
        >"$WORK/rendered/$helm-$profile.yaml" 2>"$WORK/rendered/$helm-$profile.err"; then
        finding "$helm template ($profile): $(head -c 600 "$WORK/rendered/$helm-$profile.err")"
      fi
    done
  done
  for profile in "${PROFILES[@]}"; do
    # Compared as data: helm 4 separates documents with an extra blank line.
    if ! "$K8S_CACHE/venv/bin/python" -c 'import sys, yaml; a, b = ([d for d in yaml.safe_load_all(open(f)) if d] for f in sys.argv[1:]); sys.exit(a != b)' \
      "$WORK/rendered/helm3-$profile.yaml" "$WORK/rendered/helm4-$profile.yaml"; then
      finding "helm 3 and helm 4 render the $profile profile differently (diff $WORK/rendered/helm3-$profile.yaml $WORK/rendered/helm4-$profile.yaml)"
    fi
  done
  check_monitoring_files
  check_insert_quorum
  check_rollup_nodes
  # Each must fail, and for its own reason (the message names it).
  local case_args expected
  for helm in "${HELMS[@]}"; do
    while IFS='|' read -r case_args expected; do
      read -r -a args <<<"$case_args"
      if out="$("$BIN/$helm" template ioc "$CHART" --kube-version "$KUBERNETES_VERSION" "${args[@]}" 2>&1)"; then
        finding "$helm accepted $case_args (expected a refusal naming '$expected')"
      elif ! grep -q -- "$expected" <<<"$out"; then
        finding "$helm refused $case_args, but not with '$expected': $(head -c 300 <<<"$out")"
      fi
    done <<'EOF'
--set ingest.config.max_dept=3|max_dept
--set processor.replicas=7 --set kafka.partitions=6|more than kafka.partitions
--set ingest.pseudonymisationKey.value=short|pseudonymisationKey/value
--set ingest.sourceKeys.portal[0]=not-a-digest|sourceKeys/portal/0
--set kafka.strimzi.enabled=true --set kafka.minInsyncReplicas=4|minInsyncReplicas cannot exceed
--set canary.enabled=true|canary.sourceKeys.existingSecret
--set canary.sourceKeys.portal=clear-key|additional properties 'portal' not allowed
--set tracing.enabled=true|tracing.endpoint
--set tracing.samplerArg=half|tracing/samplerArg
--set tracing.enabled=true --set tracing.endpoint=https://collector:4318|tracing/endpoint
--set clickhouse.nodeUrls[0]=ch-0-0:8123|nodeUrls/0
--set clickhouse.altinity.clusterName=provincial-cluster-1|clusterName
--set clickhouse.altinity.clusterName=prov-main|clusterName
--set clickhouse.cluster=prov-main|clickhouse/cluster
--set clickhouse.altinity.enabled=true --set clickhouse.altinity.replicas=2 --set clickhouse.altinity.name=ioc-intelligent-operations-centre-of-the-southern-province --set clickhouse.processor.password=processor-secret --set clickhouse.api.password=api-secret|longer than 63
--set clickhouse.altinity.name=ioc-intelligent-operations-centre-of-the-province-of-the-south|altinity/name
EOF
  done
}

# With the ClickHouse operator, inserts wait for every replica of a shard: a lower quorum lets
# a rollup cycle read a replica the newest rows have not reached (ops/scaling.md).
check_insert_quorum() {
  local replicas quorum
  for replicas in 1 2 3; do
    quorum="$("$BIN/helm3" template ioc "$CHART" --kube-version "$KUBERNETES_VERSION" \
      -f "$CHART/values-production.yaml" --set clickhouse.altinity.enabled=true \
      --set clickhouse.altinity.replicas="$replicas" 2>&1 |
      sed -n 's/.*IOC_PROCESSOR__CLICKHOUSE__INSERT_QUORUM: "\([0-9]*\)".*/\1/p' | head -n 1)"
    local expected=$((replicas >= 2 ? replicas : 0))
    [[ "$quorum" == "$expected" ]] ||
      finding "insert quorum with $replicas replicas per shard: '$quorum', expected $expected"
  done
}

# The rollup talks to each ClickHouse node's own address, never to the Service over every pod
# (services/processor/src/rollup/nodes.rs): with the operator, one per host of the layout, named
# as the operator names the host's Service; none with one server; an external cluster's list as
# given.
check_rollup_nodes() {
  local render urls expected shards replicas
  render() {
    "$BIN/helm3" template ioc "$CHART" --kube-version "$KUBERNETES_VERSION" "$@" 2>&1 |
      sed -n 's/.*IOC_PROCESSOR__ROLLUP_CLICKHOUSE_URLS: "\([^"]*\)".*/\1/p' | head -n 1
  }
  for shards in 1 2; do
    for replicas in 1 3; do
      urls="$(render -f "$CHART/values-production.yaml" --set clickhouse.altinity.shards="$shards" \
        --set clickhouse.altinity.replicas="$replicas" --set clickhouse.altinity.name=prov \
        --set clickhouse.altinity.clusterName=main)"
      expected=""
      if ((shards * replicas > 1)); then
        local s r
        for ((s = 0; s < shards; s++)); do
          for ((r = 0; r < replicas; r++)); do
            expected+="${expected:+,}http://chi-prov-main-$s-$r:8123"
          done
        done
      fi
      [[ "$urls" == "$expected" ]] ||
        finding "rollup nodes with $shards shards of $replicas replicas: '$urls', expected '$expected'"
    done
  done
  urls="$(render)"
  [[ -z "$urls" ]] || finding "rollup nodes listed for one external server: '$urls'"
  urls="$(render --set clickhouse.cluster=ioc --set 'clickhouse.nodeUrls={http://ch-a:8123,http://ch-b:8123}')"
  [[ "$urls" == "http://ch-a:8123,http://ch-b:8123" ]] ||
    finding "rollup nodes of an external cluster: '$urls', expected the nodeUrls given"
}

# dashboards/*.json and files/prometheus-rules/*.yaml end up in the dashboards ConfigMap and the
# PrometheusRule: those the chart holds (the observability work's), one more of each added to a
# copy of the chart, and nothing at all when there is none.
check_monitoring_files() {
  local copy="$WORK/chart-with-monitoring-files" empty="$WORK/chart-without-monitoring-files" out file group
  rm -rf "$copy" "$empty"
  cp -r "$CHART" "$copy"
  printf '{"title": "ioc validate", "panels": []}\n' >"$copy/dashboards/ioc-validate.json"
  printf 'groups:\n  - name: ioc-from-file\n    rules:\n      - record: ioc:validate:up\n        expr: up\n' >"$copy/files/prometheus-rules/validate.yaml"
  out="$("$BIN/helm4" template ioc "$copy" --kube-version "$KUBERNETES_VERSION" \
    --set monitoring.grafanaDashboards.enabled=true --set monitoring.prometheusRules.enabled=true 2>&1)" \
    || finding "rendering with the dashboards and rule files failed: $(head -c 400 <<<"$out")"
  for file in "$copy"/dashboards/*.json; do
    grep -q "^  $(basename "$file"): |-" <<<"$out" || finding "dashboards/$(basename "$file") is not in the dashboards ConfigMap"
  done
  for group in $("$K8S_CACHE/venv/bin/python" -c 'import sys, yaml
for f in sys.argv[1:]:
    for g in (yaml.safe_load(open(f)) or {}).get("groups", []): print(g["name"])' "$copy"/files/prometheus-rules/*.yaml); do
    grep -q "^    - name: $group\$" <<<"$out" || finding "rule group $group (files/prometheus-rules) is not in the PrometheusRule"
  done
  cp -r "$CHART" "$empty"
  rm -f "$empty"/dashboards/*.json "$empty"/files/prometheus-rules/*.yaml
  out="$("$BIN/helm4" template ioc "$empty" --kube-version "$KUBERNETES_VERSION" \
    --set monitoring.grafanaDashboards.enabled=true --set monitoring.prometheusRules.enabled=true 2>&1)" \
    || finding "rendering with monitoring on and no dashboard or rule failed: $(head -c 400 <<<"$out")"
  if grep -qE '^kind: PrometheusRule$|^  name: ioc-dashboards$' <<<"$out"; then
    finding "an empty PrometheusRule or dashboards ConfigMap was rendered"
  fi
}

# Step 2: kubeconform, strict, against the API's own schemas and the CRDs'; kube-score on top.
check_schemas() {
  local profile out
  for profile in "${PROFILES[@]}"; do
    # Altinity's CRDs cannot be had here; their resources are checked by the API server's
    # stand-in CRD only (structure), see values.yaml, clickhouse.altinity.
    if ! out="$("$BIN/kubeconform" -strict -summary -output text \
      -kubernetes-version "$KUBERNETES_VERSION" \
      -schema-location "$SCHEMAS/kubernetes-v$KUBERNETES_VERSION/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
      -schema-location "$SCHEMAS/crds/{{ .Group }}-{{ .ResourceKind }}-{{ .ResourceAPIVersion }}.json" \
      -skip ClickHouseInstallation,ClickHouseKeeperInstallation \
      "$WORK/rendered/helm4-$profile.yaml" 2>&1)"; then
      finding "kubeconform ($profile): $(grep -v '^Summary' <<<"$out" | head -10)"
    fi
    say "kubeconform ($profile): $(grep '^Summary' <<<"$out")"
    local skipped=("${KUBE_SCORE_SKIPPED[@]}") args=() test
    [[ "$profile" == development ]] && skipped+=("${KUBE_SCORE_SKIPPED_DEVELOPMENT[@]}")
    for test in "${skipped[@]}"; do args+=(--ignore-test "$test"); done
    for test in "${KUBE_SCORE_OPTIONAL[@]}"; do args+=(--enable-optional-test "$test"); done
    out="$("$BIN/kube-score" score --output-format ci "${args[@]}" "$WORK/rendered/helm4-$profile.yaml" 2>&1 || true)"
    if grep -qE '^\[(CRITICAL|WARNING)\]' <<<"$out"; then
      finding "kube-score ($profile): $(grep -E '^\[(CRITICAL|WARNING)\]' <<<"$out" | head -10)"
    fi
    say "kube-score ($profile): $(grep -c '^\[OK\]' <<<"$out") checks passed, skipped: ${skipped[*]}"
  done
}

kc() { "$BIN/kubectl" --kubeconfig "$CLUSTER/kubeconfig" "$@"; }
hm() {
  local helm="$1"
  shift
  "$BIN/$helm" --kubeconfig "$CLUSTER/kubeconfig" "$@"
}

# A namespace that enforces the restricted Pod Security Standard, with the Secrets the profiles
# name (made by the secret store in real life; random here).
make_namespace() {
  local ns="$1"
  kc create namespace "$ns" >/dev/null
  kc label namespace "$ns" pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/enforce-version=latest pod-security.kubernetes.io/warn=restricted >/dev/null
  local digest canary canary_digest
  digest="$(openssl rand -hex 32)"
  # The canary's own clear key (one for all three sources here), its digest beside the source's.
  canary="$(openssl rand -hex 32)"
  canary_digest="$(printf %s "$canary" | sha256sum | cut -d' ' -f1)"
  kc -n "$ns" create secret generic ioc-source-keys --from-literal=portal="$digest,$canary_digest" \
    --from-literal=edoc="$digest,$canary_digest" --from-literal=training="$digest,$canary_digest" >/dev/null
  kc -n "$ns" create secret generic ioc-canary-keys --from-literal=portal="$canary" \
    --from-literal=edoc="$canary" --from-literal=training="$canary" >/dev/null
  kc -n "$ns" create secret generic ioc-pseudonymisation \
    --from-literal=pseudonymisation-key="$(openssl rand -hex 32)" >/dev/null
  kc -n "$ns" create secret generic ioc-clickhouse-processor --from-literal=password="$(openssl rand -hex 16)" >/dev/null
  kc -n "$ns" create secret generic ioc-clickhouse-api --from-literal=password="$(openssl rand -hex 16)" >/dev/null
}

apply_crds() {
  # Altinity's CRDs are not reachable: ops/k8s.d/altinity-standin-crds.yaml registers the two
  # kinds with a schema that accepts any spec, so the rest of the chart installs around them.
  kc apply --server-side -f "$CRDS/strimzi" -f "$CRDS/prometheus-operator" -f "$K8S_D/altinity-standin-crds.yaml" >/dev/null
  # Just-created CRDs have no conditions yet, which `kubectl wait` takes for an error: retry.
  wait_for 60 "CRDs" "$BIN/kubectl" --kubeconfig "$CLUSTER/kubeconfig" wait --for condition=Established --timeout 5s crd --all \
    || die "the CRDs did not become Established: $(kc get crd -o wide 2>&1 | head)"
}

# The names of every object of the release still in the namespace (pods being deleted aside).
leftovers() {
  local ns="$1" release="$2"
  kc -n "$ns" get deploy,rs,pod,svc,cm,secret,sa,networkpolicy,pdb,hpa,ingress,job,kafka,kafkanodepool,kafkatopic,kafkauser,servicemonitor,chi,chk \
    -l "app.kubernetes.io/instance=$release" -o name 2>/dev/null
}

# Step 3: the API server. CRDs; server-side dry run of every rendered object; install, upgrade
# with a changed value, roll back and uninstall with each helm into a restricted namespace.
check_api_server() {
  apply_crds
  local profile ns
  for profile in "${PROFILES[@]}"; do
    ns="dry-run-$profile"
    make_namespace "$ns"
    local out
    if ! out="$(kc -n "$ns" apply --dry-run=server --validate=strict -f "$WORK/rendered/helm4-$profile.yaml" 2>&1)"; then
      finding "server-side dry run ($profile): $(grep -iv 'created (server dry run)\|configured (server dry run)' <<<"$out" | head -10)"
    else
      say "server-side dry run ($profile): $(grep -c 'server dry run' <<<"$out") objects accepted"
    fi
  done

  # The namespace really refuses what the restricted standard forbids.
  make_namespace restricted-probe
  # A plain pod (no securityContext) is fine for the baseline standard, not for restricted.
  local refused
  refused="$(kc -n restricted-probe apply -f - 2>&1 <<'EOF' || true
apiVersion: v1
kind: Pod
metadata: {name: probe}
spec:
  containers:
    - {name: probe, image: "registry.invalid/probe:1"}
EOF
)"
  if ! grep -q 'violates PodSecurity "restricted' <<<"$refused"; then
    finding "a pod without securityContext was not refused by the restricted Pod Security Standard: $refused"
  fi

  local helm release
  for helm in "${HELMS[@]}"; do
    for profile in development production; do
      ns="$helm-$profile"
      release=ioc
      make_namespace "$ns"
      mapfile -t args < <(profile_args "$profile")
      lifecycle "$helm" "$ns" "$release" "${args[@]}"
    done
  done
}

# install -> upgrade (a changed setting) -> rollback -> uninstall, each checked.
lifecycle() {
  local helm="$1" ns="$2" release="$3"
  shift 3
  local args=("$@") log="$WORK/logs/$ns-helm.log" value
  mkdir -p "$WORK/logs"
  if ! hm "$helm" install "$release" "$CHART" -n "$ns" "${args[@]}" --timeout 3m >>"$log" 2>&1; then
    finding "$helm install in $ns failed: $(tail -3 "$log")"
    return
  fi
  if ! hm "$helm" upgrade "$release" "$CHART" -n "$ns" "${args[@]}" --set ingest.config.max_event_age_days=500 --timeout 3m >>"$log" 2>&1; then
    finding "$helm upgrade in $ns failed: $(tail -3 "$log")"
    return
  fi
  value="$(kc -n "$ns" get configmap "$release-ingest" -o jsonpath='{.data.IOC_INGEST__MAX_EVENT_AGE_DAYS}')"
  [[ "$value" == 500 ]] || finding "$helm upgrade in $ns: the ConfigMap holds max_event_age_days=$value, not 500"
  if ! hm "$helm" rollback "$release" 1 -n "$ns" --timeout 3m >>"$log" 2>&1; then
    finding "$helm rollback in $ns failed: $(tail -3 "$log")"
    return
  fi
  value="$(kc -n "$ns" get configmap "$release-ingest" -o jsonpath='{.data.IOC_INGEST__MAX_EVENT_AGE_DAYS}')"
  [[ -z "$value" ]] || finding "$helm rollback in $ns: max_event_age_days is still set ($value)"
  local revision
  revision="$(hm "$helm" status "$release" -n "$ns" -o json | sed -n 's/.*"version":\([0-9]*\).*/\1/p' | tail -1)"
  [[ "$revision" == 3 ]] || finding "$helm rollback in $ns: the release is at revision $revision, not 3"
  if ! hm "$helm" uninstall "$release" -n "$ns" --wait --timeout 3m >>"$log" 2>&1; then
    finding "$helm uninstall in $ns failed: $(tail -3 "$log")"
    return
  fi
  # Helm leaves hook resources behind; the migration Job is the one kept on purpose (its logs).
  local left
  wait_for 60 "pods to go" bash -c "! '$BIN/kubectl' --kubeconfig '$CLUSTER/kubeconfig' -n '$ns' get pods -l app.kubernetes.io/instance=$release,app.kubernetes.io/component!=migrate -o name | grep -q ." || true
  left="$(leftovers "$ns" "$release" | grep -v "job.batch/$release-migrate\|pod/$release-migrate-" || true)"
  [[ -z "$left" ]] || finding "$helm uninstall in $ns left: $(tr '\n' ' ' <<<"$left")"
  say "$helm: install, upgrade, rollback, uninstall of the $ns release passed checks"
}

# Step 4: with the controllers and kwok's nodes: upgrade --wait, rollouts, disruption budgets and
# spread on three nodes, and the migration hook before the Deployments change.
check_rollout() {
  local ns=rollout release=ioc helm=helm4 log="$WORK/logs/rollout-helm.log"
  make_namespace "$ns"
  local args
  mapfile -t args < <(profile_args production)
  # The Strimzi operator would make these; pods only reference them.
  kc -n "$ns" create secret generic ioc-kafka-cluster-ca-cert --from-literal=ca.crt=stand-in >/dev/null
  if ! hm "$helm" install "$release" "$CHART" -n "$ns" "${args[@]}" --wait --timeout 5m >"$log" 2>&1; then
    finding "helm install --wait (production profile) failed: $(tail -3 "$log")"
    return
  fi
  wait_deployments "$ns" 3 || return
  check_spread "$ns"
  check_disruption_budgets "$ns"

  # Watch the Job and the ReplicaSets during the upgrade: a watch reports each change with the
  # object's resourceVersion, etcd's global revision, which orders changes across kinds exactly
  # (creation timestamps only have seconds).
  local started watchers=()
  started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  kc -n "$ns" get jobs -w --output-watch-events \
    -o jsonpath='{.type} {.object.metadata.name} {.object.metadata.resourceVersion} {.object.status.completionTime}{"\n"}' >"$WORK/logs/watch-jobs.log" 2>&1 &
  watchers+=($!)
  kc -n "$ns" get rs -w --output-watch-events \
    -o jsonpath='{.type} {.object.metadata.name} {.object.metadata.resourceVersion}{"\n"}' >"$WORK/logs/watch-rs.log" 2>&1 &
  watchers+=($!)
  sleep 2
  if ! hm "$helm" upgrade "$release" "$CHART" -n "$ns" "${args[@]}" --set ingest.config.max_event_age_days=500 \
    --set api.config.max_series_points=500 --set api.config.max_answers_computing=12 \
    --set processor.config.batch_max_rows=4000 --wait --timeout 5m >>"$log" 2>&1; then
    finding "helm upgrade --wait (production profile) failed: $(tail -3 "$log")"
    return
  fi
  wait_deployments "$ns" 3 || true
  kill "${watchers[@]}" 2>/dev/null || true
  wait "${watchers[@]}" 2>/dev/null || true
  check_hook_order "$ns" "$release" "$started"
  check_spread "$ns"

  # A node drained: the budgets let it go one pod at a time, and the spread still places every pod.
  # The canary's node, so its pod (one replica, no budget) is evicted and placed elsewhere too;
  # the other Deployments have pods on every node.
  local node canary_node canary_now
  canary_node="$(canary_nodes "$ns" || true)"
  node="${canary_node:-${KWOK_NODES[0]}}"
  [[ -n "$canary_node" ]] || finding "no running canary pod before the drain (production profile has canary.enabled)"
  if ! kc drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout 120s >"$WORK/logs/drain.log" 2>&1; then
    finding "kubectl drain $node did not complete within the disruption budgets: $(tail -3 "$WORK/logs/drain.log")"
  fi
  wait_deployments "$ns" 3 || true
  local pending
  pending="$(kc -n "$ns" get pods --field-selector=status.phase=Pending -o name | wc -l)"
  ((pending == 0)) || finding "$pending pods stayed Pending on two nodes after the drain (spread constraints unsatisfiable)"
  canary_now="$(canary_nodes "$ns" || true)"
  if [[ -z "$canary_now" || " $canary_now " == *" $node "* ]]; then
    finding "the canary's pod did not move off the drained node $node (running on: ${canary_now:-none})"
  fi
  kc uncordon "$node" >/dev/null
  ((pending > 0)) || say "drain of $node (the canary's node): every Deployment available again on the two other nodes, the canary now on $canary_now"
  hm "$helm" uninstall "$release" -n "$ns" --wait --timeout 3m >>"$log" 2>&1 || finding "helm uninstall (rollout) failed"
}

# The nodes of the canary's running pods (not being deleted), space-separated.
canary_nodes() {
  kc -n "$1" get pods -l app.kubernetes.io/component=canary --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}{.spec.nodeName} {.metadata.deletionTimestamp}{"\n"}{end}' 2>/dev/null |
    awk 'NF == 1 { print $1 }' | xargs
}

# Waits until each Deployment of the release has every replica updated and available (at least
# MIN, which the autoscalers raise the production profile to), and the canary's one replica.
wait_deployments() {
  local ns="$1" min="$2" deploy
  for deploy in ingest processor api; do
    if ! wait_for 180 "$deploy" deployment_complete "$ns" "ioc-$deploy" "$min"; then
      finding "deployment ioc-$deploy in $ns did not roll out to $min available replicas: $(kc -n "$ns" get deploy "ioc-$deploy" -o jsonpath='{.status}')"
      return 1
    fi
  done
  if ! wait_for 180 canary deployment_complete "$ns" ioc-canary 1; then
    finding "deployment ioc-canary in $ns did not roll out to its one available replica: $(kc -n "$ns" get deploy ioc-canary -o jsonpath='{.status}' 2>&1)"
    return 1
  fi
}

deployment_complete() {
  local ns="$1" name="$2" min="$3" status
  status="$(kc -n "$ns" get deploy "$name" -o jsonpath='{.spec.replicas} {.status.updatedReplicas} {.status.availableReplicas} {.status.replicas} {.metadata.generation} {.status.observedGeneration}')"
  read -r want updated available total generation observed <<<"$status"
  [[ -n "$want" && "$want" -ge "$min" && "$updated" == "$want" && "$available" == "$want" && "$total" == "$want" && "$generation" == "$observed" ]]
}

# Each Deployment's pods over the three nodes differ by at most one (maxSkew 1).
check_spread() {
  local ns="$1" deploy counts
  for deploy in ingest processor api; do
    counts="$(kc -n "$ns" get pods -l "app.kubernetes.io/component=$deploy" --field-selector=status.phase=Running \
      -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort | uniq -c | awk '{print $1}' | sort -n | tr '\n' ' ')"
    read -r -a per_node <<<"$counts"
    if ((${#per_node[@]} < 3)) || ((per_node[-1] - per_node[0] > 1)); then
      finding "$deploy's pods are not spread over the three nodes (pods per node: $counts)"
    fi
  done
  say "spread: each Deployment's pods are on all three nodes, at most one apart"
}

check_disruption_budgets() {
  local ns="$1" pdb
  for pdb in ingest processor api; do
    wait_for 30 "budget" bash -c "[[ \$('$BIN/kubectl' --kubeconfig '$CLUSTER/kubeconfig' -n '$ns' get pdb ioc-$pdb -o jsonpath='{.status.disruptionsAllowed}') -ge 1 ]]" \
      || finding "PodDisruptionBudget ioc-$pdb allows no disruption: $(kc -n "$ns" get pdb "ioc-$pdb" -o jsonpath='{.status}')"
  done
  # The canary has one replica and no budget, so nothing can hold up a drain for it.
  local canary_budgets
  canary_budgets="$(kc -n "$ns" get pdb -l app.kubernetes.io/component=canary -o name)"
  [[ -z "$canary_budgets" ]] || finding "the canary has a PodDisruptionBudget ($canary_budgets); with one replica it could block a drain"
  say "disruption budgets: each allows one pod down; none for the canary"
}

# The migration Job of this upgrade completed before any Deployment created its new ReplicaSet:
# the resourceVersion at which the watch saw the Job complete is below those at which each new
# ReplicaSet appeared.
check_hook_order() {
  local ns="$1" release="$2" started="$3" job_created job_done job_rv deploy revision rs rs_rv
  job_created="$(kc -n "$ns" get job "$release-migrate" -o jsonpath='{.metadata.creationTimestamp}')"
  job_done="$(kc -n "$ns" get job "$release-migrate" -o jsonpath='{.status.completionTime}')"
  if [[ -z "$job_done" || "$job_created" < "$started" ]]; then
    finding "the migration Job of the upgrade did not run (created $job_created, completed ${job_done:-never}, upgrade began $started)"
    return
  fi
  job_rv="$(awk -v name="$release-migrate" '$2 == name && $4 != "" { print $3; exit }' "$WORK/logs/watch-jobs.log")"
  if [[ -z "$job_rv" ]]; then
    finding "the watch did not see the migration Job complete ($WORK/logs/watch-jobs.log)"
    return
  fi
  say "migration Job: created $job_created, completed $job_done (resourceVersion $job_rv)"
  for deploy in ingest processor api; do
    revision="$(kc -n "$ns" get deploy "$release-$deploy" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')"
    rs="$(kc -n "$ns" get rs -l "app.kubernetes.io/component=$deploy" \
      -o jsonpath="{range .items[?(@.metadata.annotations.deployment\.kubernetes\.io/revision==\"$revision\")]}{.metadata.name}{end}")"
    rs_rv="$(awk -v name="$rs" '$1 == "ADDED" && $2 == name { print $3; exit }' "$WORK/logs/watch-rs.log")"
    if [[ -z "$rs_rv" ]] || ((revision < 2)) || ((rs_rv <= job_rv)); then
      finding "$deploy's new ReplicaSet ${rs:-?} (revision $revision, resourceVersion ${rs_rv:-not seen}) did not appear after the migration Job completed (resourceVersion $job_rv)"
    else
      say "  $deploy: new ReplicaSet $rs appeared at resourceVersion $rs_rv, after the Job's completion"
    fi
  done
}

validate_all() {
  VALIDATE_STARTED=$SECONDS
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/ioc-k8s-validate.XXXXXX")"
  CLUSTER="$K8S_CACHE/run/validate"
  # Whatever happens, stop what this run started, and end with the summary line all the same.
  trap 'status=$?; cluster_down "$CLUSTER"; if ((status != 0)) && ((${#FINDINGS[@]} == 0)); then echo "ops/k8s validate: FAILED, stopped (an error, or interrupted) during \"${STEP_CURRENT:-setup}\" after $((SECONDS - VALIDATE_STARTED))s (logs: $WORK, $CLUSTER/logs)"; fi' EXIT
  trap 'exit 130' INT TERM

  install_all

  step_begin "1. helm lint --strict, helm template (helm 3 and 4, 4 sets of values)"
  check_render
  step_end
  step_begin "2. kubeconform (strict, API + CRD schemas), kube-score"
  check_schemas
  step_end
  step_begin "3a. control plane up (etcd, apiserver, controllers, kwok)"
  cluster_up "$CLUSTER"
  step_end
  step_begin "3b. CRDs, server-side dry run, install/upgrade/rollback/uninstall"
  check_api_server
  step_end
  step_begin "4. upgrade --wait, rollouts, spread, budgets, drain, hook order"
  check_rollout
  step_end
  cluster_down "$CLUSTER"

  print_timings
  if ((${#FINDINGS[@]} > 0)); then
    say "logs: $WORK, $CLUSTER/logs"
    echo "ops/k8s validate: FAILED, ${#FINDINGS[@]} finding(s) in $((SECONDS - VALIDATE_STARTED))s (see FINDING lines above)"
    exit 1
  fi
  rm -rf "$WORK"
  echo "ops/k8s validate: passed (lint, render, schemas, kube-score, API server, rollout) in $((SECONDS - VALIDATE_STARTED))s"
}
