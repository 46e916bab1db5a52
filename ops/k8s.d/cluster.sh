# shellcheck shell=bash
# A real Kubernetes control plane on 127.0.0.1, from the binaries ops/k8s builds: etcd,
# kube-apiserver (token authentication, RBAC, Pod Security admission), kube-controller-manager
# (Deployments, ReplicaSets, Jobs, HPAs, disruption budgets), kube-scheduler, and kwok, which
# plays the kubelet of three simulated nodes in three zones. No container runs: pods become
# Running/Ready (and Job pods Succeeded) by kwok's stages.
#
# Ports (override when taken): IOC_K8S_ETCD_PORT (2379), IOC_K8S_ETCD_PEER_PORT (2380),
# IOC_K8S_API_PORT (6443), IOC_K8S_CONTROLLER_MANAGER_PORT (10257), IOC_K8S_SCHEDULER_PORT (10259).

ETCD_PORT="${IOC_K8S_ETCD_PORT:-2379}"
ETCD_PEER_PORT="${IOC_K8S_ETCD_PEER_PORT:-2380}"
API_PORT="${IOC_K8S_API_PORT:-6443}"
CM_PORT="${IOC_K8S_CONTROLLER_MANAGER_PORT:-10257}"
SCHED_PORT="${IOC_K8S_SCHEDULER_PORT:-10259}"
# Service and pod addresses are only records here (nothing routes them); a reserved
# benchmarking range keeps them clear of any real network.
SERVICE_CIDR=198.18.0.0/20
POD_CIDR=198.19.0.0/16
KWOK_NODES=(sim-node-a sim-node-b sim-node-c)

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for SECONDS DESCRIPTION COMMAND...: retries COMMAND every half second.
wait_for() {
  local timeout="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      say "gave up waiting for $what after ${timeout}s"
      return 1
    fi
    sleep 0.5
  done
}

# start_process DIR NAME COMMAND...: starts a process in its own session, output to DIR/logs.
start_process() {
  local dir="$1" name="$2"
  shift 2
  mkdir -p "$dir/logs" "$dir/pids"
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name.pid"
}

# Whether a process lives (a zombie, exited but not yet reaped by its parent, does not).
alive() { [[ -r "/proc/$1/stat" ]] && [[ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]]; }

process_running() {
  local pidfile="$1/pids/$2.pid"
  [[ -f "$pidfile" ]] && alive "$(cat "$pidfile")"
}

# Stops the processes started in DIR, newest first, by their recorded ids only.
cluster_down() {
  local dir="$1" name pid
  [[ -d "$dir/pids" ]] || return 0
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [[ -f "$dir/pids/$name.pid" ]] || continue
    pid="$(cat "$dir/pids/$name.pid")"
    if alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      # kube-apiserver lingers after SIGTERM (it lets open requests finish for up to a minute);
      # this throwaway cluster's data goes with it, so ten seconds is enough for anyone.
      if ! wait_for 10 "$name to stop" 2>/dev/null bash -c "! { [[ -r /proc/$pid/stat ]] && [[ \$(cut -d' ' -f3 /proc/$pid/stat) != Z ]]; }"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait_for 5 "$name to die" 2>/dev/null bash -c "[[ ! -r /proc/$pid/stat ]] || [[ \$(cut -d' ' -f3 /proc/$pid/stat) == Z ]]" || true
      fi
      # Reap it when it is this shell's child (validate), so no job notice follows.
      wait "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/pids/$name.pid"
  done
}

cluster_status() {
  local dir="$1" name all=0
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    if process_running "$dir" "$name"; then
      say "$name runs (log: $dir/logs/$name.log)"
    else
      say "$name is not running"
      all=1
    fi
  done
  return "$all"
}

write_certificates() {
  local pki="$1"
  mkdir -p "$pki"
  require_command openssl "install Debian's openssl"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 7 -subj /CN=ioc-k8s-test-ca
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 7 -extfile apiserver.ext
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
  ) >"$pki/openssl.log" 2>&1 || die "openssl failed to make the test cluster's certificates (log: $pki/openssl.log)"
}

write_kubeconfig() {
  local dir="$1" token="$2"
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: ioc-test
    cluster:
      server: https://127.0.0.1:$API_PORT
      certificate-authority: $dir/pki/ca.crt
users:
  - name: admin
    user:
      token: $token
contexts:
  - name: ioc-test
    context: {cluster: ioc-test, user: admin}
current-context: ioc-test
EOF
  chmod 600 "$dir/kubeconfig"
}

add_simulated_nodes() {
  local dir="$1" zone=a node
  for node in "${KWOK_NODES[@]}"; do
    "$BIN/kubectl" --kubeconfig "$dir/kubeconfig" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $node
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $node
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/zone: zone-$zone
    type: kwok
status:
  allocatable: {cpu: "16", memory: 64Gi, pods: "110", ephemeral-storage: 100Gi}
  capacity: {cpu: "16", memory: 64Gi, pods: "110", ephemeral-storage: 100Gi}
EOF
    zone="$(tr 'ab' 'bc' <<<"$zone")"
  done
}

all_nodes_ready() {
  local ready
  ready="$("$BIN/kubectl" --kubeconfig "$1/kubeconfig" get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)"
  [[ "$ready" -eq ${#KWOK_NODES[@]} ]]
}

# cluster_up DIR [keep]: a fresh control plane with data, certificates and logs in DIR.
cluster_up() {
  local dir="$1"
  local port
  for port in "$ETCD_PORT" "$ETCD_PEER_PORT" "$API_PORT" "$CM_PORT" "$SCHED_PORT"; do
    if port_in_use "$port"; then
      die "127.0.0.1:$port is in use (ops/k8s up still running? then ops/k8s down); or choose other ports with IOC_K8S_*_PORT (ops/k8s.d/cluster.sh)"
    fi
  done
  cluster_down "$dir"
  rm -rf "$dir"
  mkdir -p "$dir"
  write_certificates "$dir/pki"
  local token
  token="$(openssl rand -hex 24)"
  printf '%s,admin,admin,system:masters\n' "$token" >"$dir/pki/tokens.csv"
  chmod 600 "$dir/pki/tokens.csv"
  write_kubeconfig "$dir" "$token"

  start_process "$dir" etcd "$BIN/etcd" --name ioc-test --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "ioc-test=http://127.0.0.1:$ETCD_PEER_PORT" --log-level warn
  wait_for 30 etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health" || die "etcd did not start (log: $dir/logs/etcd.log)"

  # --endpoint-reconciler-type=none: the server would otherwise refuse to advertise 127.0.0.1.
  start_process "$dir" kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
    --token-auth-file "$dir/pki/tokens.csv" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$dir/pki/sa.pub" \
    --service-account-signing-key-file "$dir/pki/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --endpoint-reconciler-type none --allow-privileged=false \
    --profiling=false --cert-dir "$dir/pki"
  wait_for 90 kube-apiserver "$BIN/kubectl" --kubeconfig "$dir/kubeconfig" get --raw /readyz \
    || die "kube-apiserver did not become ready (log: $dir/logs/kube-apiserver.log)"

  start_process "$dir" kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$dir/kubeconfig" --authentication-kubeconfig "$dir/kubeconfig" --authorization-kubeconfig "$dir/kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$CM_PORT" --leader-elect=false \
    --service-account-private-key-file "$dir/pki/sa.key" --root-ca-file "$dir/pki/ca.crt" \
    --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false \
    --horizontal-pod-autoscaler-sync-period 5s
  start_process "$dir" kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$dir/kubeconfig" --authentication-kubeconfig "$dir/kubeconfig" --authorization-kubeconfig "$dir/kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --leader-elect=false --profiling=false
  wait_for 60 kube-controller-manager curl -fsSk "https://127.0.0.1:$CM_PORT/healthz" \
    || die "kube-controller-manager did not start (log: $dir/logs/kube-controller-manager.log)"
  wait_for 60 kube-scheduler curl -fsSk "https://127.0.0.1:$SCHED_PORT/healthz" \
    || die "kube-scheduler did not start (log: $dir/logs/kube-scheduler.log)"

  # kwok's stages: nodes become Ready and keep a heartbeat; pods become Ready, Job pods complete.
  local stages
  stages="$(module_dir "sigs.k8s.io/kwok@$KWOK_MODULE_VERSION")/kustomize/stage"
  start_process "$dir" kwok "$BIN/kwok" --kubeconfig "$dir/kubeconfig" \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --cidr "$POD_CIDR" --node-ip 127.0.0.1 \
    --config "$stages/node/fast/node-initialize.yaml" --config "$stages/node/heartbeat/node-heartbeat.yaml" \
    --config "$stages/pod/fast/pod-ready.yaml" --config "$stages/pod/fast/pod-complete.yaml" \
    --config "$stages/pod/fast/pod-delete.yaml"
  add_simulated_nodes "$dir"
  wait_for 60 "the simulated nodes" all_nodes_ready "$dir" \
    || die "kwok's nodes did not become Ready (log: $dir/logs/kwok.log)"
  say "control plane up on 127.0.0.1:$API_PORT with ${#KWOK_NODES[@]} simulated nodes (logs: $dir/logs)"
}
