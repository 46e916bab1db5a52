{{/* Names, labels and the pieces every workload shares. */}}

{{- define "ioc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ioc.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "ioc.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "ioc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ioc
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one component (ingest, processor, api, migrate, ...): (dict "root" $ "component" "ingest") */}}
{{- define "ioc.componentLabels" -}}
{{ include "ioc.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Selector labels of one component; never change them (Deployments' selectors are immutable). */}}
{{- define "ioc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ioc.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* An image reference: (dict "root" $ "name" "ioc-ingest") */}}
{{- define "ioc.image" -}}
{{- $image := .root.Values.image -}}
{{- if $image.digest -}}
{{- printf "%s/%s@%s" $image.registry .name $image.digest -}}
{{- else -}}
{{- printf "%s/%s:%s" $image.registry .name (default .root.Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Pod-level security: what the restricted Pod Security Standard asks, and no API token. */}}
{{- define "ioc.podSecurity" -}}
automountServiceAccountToken: false
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .Values.runAsUser }}
  runAsGroup: {{ .Values.runAsUser }}
  fsGroup: {{ .Values.runAsUser }}
  seccompProfile:
    type: RuntimeDefault
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Container-level security: non-root, read-only root filesystem, no capabilities. */}}
{{- define "ioc.containerSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .Values.runAsUser }}
  runAsGroup: {{ .Values.runAsUser }}
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  privileged: false
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{/* Spread a component's replicas over nodes and zones: (dict "root" $ "component" "ingest") */}}
{{- define "ioc.topologySpread" -}}
{{- $spread := .root.Values.topologySpread -}}
{{- if $spread.enabled -}}
topologySpreadConstraints:
  - maxSkew: {{ $spread.maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: {{ $spread.nodeWhenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "ioc.selectorLabels" . | nindent 8 }}
    matchLabelKeys: [pod-template-hash]
    # A cordoned or tainted node does not count, so a drain does not leave pods Pending.
    nodeTaintsPolicy: Honor
  - maxSkew: {{ $spread.maxSkew }}
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: {{ $spread.zoneWhenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "ioc.selectorLabels" . | nindent 8 }}
    matchLabelKeys: [pod-template-hash]
    # A cordoned or tainted node does not count, so a drain does not leave pods Pending.
    nodeTaintsPolicy: Honor
{{- end }}
{{- end -}}

{{/*
A settings map as environment variables, the services' `PREFIX__SECTION__KEY` convention: a map
becomes a section, a list a comma-separated value; whole numbers print as integers (Helm reads
numbers as floats, which would print 5242880 as 5.24288e+06).
(dict "prefix" "IOC_INGEST" "settings" .Values.ingest.config)
*/}}
{{- define "ioc.settingsEnv" -}}
{{- range $key, $value := .settings }}
{{- $name := printf "%s__%s" $.prefix (upper $key) }}
{{- if kindIs "map" $value }}
{{- include "ioc.settingsEnv" (dict "prefix" $name "settings" $value) }}
{{- else }}
{{ $name }}: {{ include "ioc.scalar" $value | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "ioc.scalar" -}}
{{- if kindIs "slice" . -}}
{{- $items := list -}}
{{- range . }}{{ $items = append $items (include "ioc.scalar" .) }}{{ end -}}
{{- join "," $items -}}
{{- else if and (kindIs "float64" .) (eq (float64 (int64 .)) .) -}}
{{- int64 . -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/* The Kafka cluster's name when Strimzi runs it. */}}
{{- define "ioc.kafkaCluster" -}}
{{- default (printf "%s-kafka" (include "ioc.fullname" .)) .Values.kafka.strimzi.clusterName -}}
{{- end -}}

{{/* Bootstrap servers the services use. */}}
{{- define "ioc.kafkaBrokers" -}}
{{- if .Values.kafka.strimzi.enabled -}}
{{- printf "%s-kafka-bootstrap:%d" (include "ioc.kafkaCluster" .) (int .Values.kafka.strimzi.listenerPort) -}}
{{- else -}}
{{- .Values.kafka.brokers -}}
{{- end -}}
{{- end -}}

{{/* How the services authenticate to Kafka: none or scram-sha-512. */}}
{{- define "ioc.kafkaMechanism" -}}
{{- if .Values.kafka.strimzi.enabled }}scram-sha-512{{ else }}{{ .Values.kafka.auth.mechanism }}{{ end -}}
{{- end -}}

{{- define "ioc.kafkaTLS" -}}
{{- if or .Values.kafka.strimzi.enabled .Values.kafka.auth.tls }}true{{ end -}}
{{- end -}}

{{/* The Secret and key of the Kafka brokers' CA certificate. */}}
{{- define "ioc.kafkaCASecret" -}}
{{- if .Values.kafka.strimzi.enabled -}}
{{- printf "%s-cluster-ca-cert" (include "ioc.kafkaCluster" .) -}}
{{- else -}}
{{- .Values.kafka.auth.caSecret.name -}}
{{- end -}}
{{- end -}}

{{- define "ioc.kafkaCAKey" -}}
{{- if .Values.kafka.strimzi.enabled }}ca.crt{{ else }}{{ .Values.kafka.auth.caSecret.key }}{{ end -}}
{{- end -}}

{{/* The span export's settings (values `tracing`) for ingest and the processor, which read
OpenTelemetry's own variables; nothing when it is off. */}}
{{- define "ioc.tracingEnv" -}}
{{- $t := .Values.tracing -}}
{{- if $t.enabled }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ required "tracing.endpoint: the span export needs the collector's OTLP/HTTP address, e.g. http://otel-collector.monitoring:4318" $t.endpoint | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $t.sampler | quote }}
{{- with $t.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
- name: IOC_POD_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: "k8s.namespace.name={{ .Release.Namespace }},k8s.pod.name=$(IOC_POD_NAME)"
{{- end }}
{{- end -}}

{{/*
Kafka security settings of one service as environment entries:
(dict "root" $ "prefix" "IOC_INGEST" "user" "ingest")
*/}}
{{- define "ioc.kafkaSecurityEnv" -}}
{{- $root := .root -}}
{{- $mechanism := include "ioc.kafkaMechanism" $root -}}
{{- $tls := include "ioc.kafkaTLS" $root -}}
{{- $user := get $root.Values.kafka.auth.users .user -}}
{{- if or (ne $mechanism "none") $tls }}
- name: {{ .prefix }}__KAFKA__SECURITY_PROTOCOL
  value: {{ if ne $mechanism "none" }}{{ if $tls }}SASL_SSL{{ else }}SASL_PLAINTEXT{{ end }}{{ else }}SSL{{ end }}
{{- end }}
{{- if $tls }}
- name: {{ .prefix }}__KAFKA__SSL_CA_LOCATION
  value: /etc/ioc/kafka-ca/ca.crt
{{- end }}
{{- if ne $mechanism "none" }}
- name: {{ .prefix }}__KAFKA__SASL_MECHANISM
  value: SCRAM-SHA-512
- name: {{ .prefix }}__KAFKA__SASL_USERNAME
  value: {{ $user.username | quote }}
- name: {{ .prefix }}__KAFKA__SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ if $root.Values.kafka.strimzi.enabled }}{{ $user.username }}{{ else }}{{ required (printf "kafka.auth.users.%s.existingSecret: a Secret with the Kafka password of %s is needed when kafka.auth.mechanism is %s" .user $user.username $mechanism) $user.existingSecret }}{{ end }}
      key: {{ if $root.Values.kafka.strimzi.enabled }}password{{ else }}{{ $user.passwordKey }}{{ end }}
{{- end }}
{{- end -}}

{{/* The volume and mount of the Kafka CA certificate, when the connection is TLS. */}}
{{- define "ioc.kafkaCAVolume" -}}
{{- if include "ioc.kafkaTLS" . }}
- name: kafka-ca
  secret:
    secretName: {{ required "kafka.auth.caSecret.name: the Secret with the brokers' CA certificate is needed when kafka.auth.tls is true" (include "ioc.kafkaCASecret" .) }}
    items:
      - key: {{ include "ioc.kafkaCAKey" . }}
        path: ca.crt
{{- end }}
{{- end -}}

{{- define "ioc.kafkaCAMount" -}}
{{- if include "ioc.kafkaTLS" . }}
- name: kafka-ca
  mountPath: /etc/ioc/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* ClickHouse's HTTP endpoint. */}}
{{- define "ioc.clickhouseName" -}}
{{- default (include "ioc.fullname" .) .Values.clickhouse.altinity.name -}}
{{- end -}}

{{- define "ioc.clickhouseURL" -}}
{{- if .Values.clickhouse.altinity.enabled -}}
{{- printf "http://clickhouse-%s:8123" (include "ioc.clickhouseName" .) -}}
{{- else -}}
{{- .Values.clickhouse.url -}}
{{- end -}}
{{- end -}}

{{/* The ClickHouse cluster the services address (empty: one server), and the insert quorum. */}}
{{- define "ioc.clickhouseCluster" -}}
{{- $a := .Values.clickhouse.altinity -}}
{{- if $a.enabled -}}
{{- if gt (mul (int $a.shards) (int $a.replicas)) 1 }}{{ $a.clusterName }}{{ end -}}
{{- else -}}
{{- .Values.clickhouse.cluster -}}
{{- end -}}
{{- end -}}

{{- define "ioc.clickhouseInsertQuorum" -}}
{{- $a := .Values.clickhouse.altinity -}}
{{- if $a.enabled -}}
{{- /* Every replica of a shard: with fewer, a rollup cycle may read a replica that lacks the
newest insert and move past it for good (ops/scaling.md). */ -}}
{{- if ge (int $a.replicas) 2 }}{{ int $a.replicas }}{{ else }}0{{ end -}}
{{- else -}}
{{- .Values.clickhouse.insertQuorum -}}
{{- end -}}
{{- end -}}

{{- /* The rollup's ClickHouse nodes, each node's own address, comma-separated (empty: the
rollup uses ioc.clickhouseURL). A rollup cycle creates tables of its own on the node it talks to
and uses them in later statements, so it cannot go through the operator's Service over every pod
(services/processor/src/rollup/nodes.rs); the operator gives each host a Service of its own,
chi-<installation>-<cluster>-<shard>-<replica>, numbered from 0. */ -}}
{{- define "ioc.rollupClickhouseURLs" -}}
{{- $a := .Values.clickhouse.altinity -}}
{{- if $a.enabled -}}
{{- if gt (mul (int $a.shards) (int $a.replicas)) 1 -}}
{{- $name := include "ioc.clickhouseName" . -}}
{{- $longest := printf "chi-%s-%s-%d-%d" $name $a.clusterName (sub (int $a.shards) 1) (sub (int $a.replicas) 1) -}}
{{- if gt (len $longest) 63 -}}
{{- fail (printf "clickhouse.altinity.name: the operator would name a host's Service %q, longer than 63 characters, which Kubernetes refuses; choose a shorter installation name" $longest) -}}
{{- end -}}
{{- $urls := list -}}
{{- range $shard := until (int $a.shards) -}}
{{- range $replica := until (int $a.replicas) -}}
{{- $urls = append $urls (printf "http://chi-%s-%s-%d-%d:8123" $name $a.clusterName $shard $replica) -}}
{{- end -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}
{{- else -}}
{{- join "," .Values.clickhouse.nodeUrls -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret the chart creates for ClickHouse passwords given inline. */}}
{{- define "ioc.clickhouseSecret" -}}
{{- printf "%s-clickhouse" (include "ioc.fullname" .) -}}
{{- end -}}

{{/*
The password of a ClickHouse account as an env entry's valueFrom, or nothing when none is set
(an account without password, e.g. a test ClickHouse): (dict "root" $ "account" "processor")
*/}}
{{- define "ioc.clickhousePasswordRef" -}}
{{- $account := get .root.Values.clickhouse .account -}}
{{- if $account.existingSecret -}}
secretKeyRef:
  name: {{ $account.existingSecret }}
  key: {{ $account.passwordKey }}
{{- else if $account.password -}}
secretKeyRef:
  name: {{ include "ioc.clickhouseSecret" .root }}
  key: {{ .account }}-password
{{- end -}}
{{- end -}}

{{/* NetworkPolicy egress rules to Kafka, ClickHouse and DNS: (dict "root" $ "kafka" true "clickhouse" true) */}}
{{- define "ioc.egressRules" -}}
{{- $v := .root.Values -}}
{{- if .kafka -}}
- ports:
    {{- if $v.kafka.strimzi.enabled }}
    - {port: {{ $v.kafka.strimzi.listenerPort }}, protocol: TCP}
    {{- else }}
    - {port: {{ $v.kafka.port }}, protocol: TCP}
    {{- end }}
  {{- if $v.kafka.strimzi.enabled }}
  to:
    - podSelector:
        matchLabels:
          strimzi.io/cluster: {{ include "ioc.kafkaCluster" .root }}
          strimzi.io/kind: Kafka
  {{- else if $v.kafka.networkPolicyPeers }}
  to:
    {{- toYaml $v.kafka.networkPolicyPeers | nindent 4 }}
  {{- end }}
{{- end }}
{{- if .clickhouse }}
- ports:
    - {port: {{ if $v.clickhouse.altinity.enabled }}8123{{ else }}{{ $v.clickhouse.port }}{{ end }}, protocol: TCP}
  {{- if $v.clickhouse.altinity.enabled }}
  to:
    - podSelector:
        matchLabels:
          clickhouse.altinity.com/chi: {{ include "ioc.clickhouseName" .root }}
  {{- else if $v.clickhouse.networkPolicyPeers }}
  to:
    {{- toYaml $v.clickhouse.networkPolicyPeers | nindent 4 }}
  {{- end }}
{{- end }}
{{- if $v.networkPolicy.allowDNS }}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
  to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
{{- end }}
{{- end -}}

{{/* Seconds a pod gets to stop: the service's own shutdown deadline, rounded up to whole seconds,
plus 15 s: the preStop pause takes 5 before SIGTERM, and the span export's last send, after the
deadline, at most 5 (the OpenTelemetry SDK's bound on its shutdown). */}}
{{- define "ioc.terminationGrace" -}}
{{- $deadline := default 20000 (get (default dict .config) "shutdown_deadline_ms") -}}
{{- add (div (add (int64 $deadline) 999) 1000) 15 -}}
{{- end -}}
