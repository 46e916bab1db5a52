{{/*
Each service's non-secret settings as NAME: "value" lines: what the chart decides (addresses,
ports, names the ACLs depend on) followed by the service's `config` map from the values. The
ConfigMaps hold them; the migration Job, which runs before the ConfigMaps exist on a first
install, carries the processor's inline.
*/}}

{{- define "ioc.ingestSettings" -}}
{{- $v := .Values -}}
IOC_INGEST__LISTEN: "0.0.0.0:{{ $v.ingest.port }}"
IOC_INGEST__KAFKA__BROKERS: {{ include "ioc.kafkaBrokers" . | quote }}
IOC_INGEST__KAFKA__TOPIC_PREFIX: {{ $v.kafka.topicPrefix | quote }}
{{- include "ioc.settingsEnv" (dict "prefix" "IOC_INGEST" "settings" $v.ingest.config) }}
{{- end -}}

{{- define "ioc.processorSettings" -}}
{{- $v := .Values -}}
{{- if gt (int $v.kafka.minInsyncReplicas) (int $v.kafka.replicationFactor) }}
{{- fail "kafka.minInsyncReplicas cannot exceed kafka.replicationFactor: no write would ever be acknowledged" }}
{{- end }}
IOC_PROCESSOR__LISTEN: "0.0.0.0:{{ $v.processor.port }}"
IOC_PROCESSOR__GROUP_PREFIX: {{ $v.processor.groupPrefix | quote }}
IOC_PROCESSOR__KAFKA__BROKERS: {{ include "ioc.kafkaBrokers" . | quote }}
IOC_PROCESSOR__KAFKA__TOPIC_PREFIX: {{ $v.kafka.topicPrefix | quote }}
IOC_PROCESSOR__KAFKA__PARTITIONS: {{ $v.kafka.partitions | quote }}
IOC_PROCESSOR__KAFKA__REPLICATION_FACTOR: {{ $v.kafka.replicationFactor | quote }}
{{- if $v.kafka.strimzi.enabled }}
{{- /* The topics are KafkaTopic resources; the processor's user may not create any. */}}
IOC_PROCESSOR__KAFKA__CREATE_TOPICS: "false"
{{- else }}
{{- /* An external Kafka: the processor creates the topics it finds missing, with the same
durability and retention as the KafkaTopics would have (Kafka's own defaults are one in-sync
replica and 7 days for every topic). */}}
IOC_PROCESSOR__KAFKA__CREATE_TOPICS: {{ $v.kafka.createTopics | quote }}
IOC_PROCESSOR__KAFKA__MIN_INSYNC_REPLICAS: {{ $v.kafka.minInsyncReplicas | quote }}
IOC_PROCESSOR__KAFKA__RETENTION_HOURS: {{ $v.kafka.retentionHours | quote }}
IOC_PROCESSOR__KAFKA__DEAD_LETTER_RETENTION_HOURS: {{ $v.kafka.dlqRetentionHours | quote }}
{{- end }}
IOC_PROCESSOR__CLICKHOUSE__URL: {{ include "ioc.clickhouseURL" . | quote }}
IOC_PROCESSOR__CLICKHOUSE__DATABASE: {{ $v.clickhouse.database | quote }}
IOC_PROCESSOR__CLICKHOUSE__USER: {{ $v.clickhouse.processor.user | quote }}
{{- with include "ioc.clickhouseCluster" . }}
IOC_PROCESSOR__CLICKHOUSE__CLUSTER: {{ . | quote }}
IOC_PROCESSOR__CLICKHOUSE__INSERT_QUORUM: {{ include "ioc.clickhouseInsertQuorum" $ | quote }}
{{- end }}
{{- with include "ioc.rollupClickhouseURLs" . }}
IOC_PROCESSOR__ROLLUP_CLICKHOUSE_URLS: {{ . | quote }}
{{- end }}
{{- include "ioc.settingsEnv" (dict "prefix" "IOC_PROCESSOR" "settings" $v.processor.config) }}
{{- end -}}

{{- define "ioc.apiSettings" -}}
{{- $v := .Values -}}
{{- $fullname := include "ioc.fullname" . -}}
IOC_API__LISTEN: "0.0.0.0:{{ $v.api.port }}"
IOC_API__WEB_DIR: /usr/share/ioc/web
IOC_API__CLICKHOUSE__URL: {{ include "ioc.clickhouseURL" . | quote }}
IOC_API__CLICKHOUSE__DATABASE: {{ $v.clickhouse.database | quote }}
IOC_API__CLICKHOUSE__USER: {{ $v.clickhouse.api.user | quote }}
{{- with include "ioc.clickhouseCluster" . }}
IOC_API__CLICKHOUSE__CLUSTER: {{ . | quote }}
{{- end }}
{{- if $v.api.pipelineMetricsFromServices }}
IOC_API__PIPELINE_METRICS_URLS: "http://{{ $fullname }}-ingest:{{ $v.ingest.service.port }}/metrics,http://{{ $fullname }}-processor:{{ $v.processor.port }}/metrics"
{{- end }}
{{- include "ioc.settingsEnv" (dict "prefix" "IOC_API" "settings" $v.api.config) }}
{{- end -}}

{{- /* The canary reads IOC_CANARY_<SETTING> (one underscore: clap's `env`, not the services' config loader). */}}
{{- define "ioc.canarySettings" -}}
{{- $v := .Values -}}
{{- $fullname := include "ioc.fullname" . -}}
IOC_CANARY_INGEST_URL: "http://{{ $fullname }}-ingest:{{ $v.ingest.service.port }}"
IOC_CANARY_API_URL: "http://{{ $fullname }}-api:{{ $v.api.service.port }}"
IOC_CANARY_INTERVAL_SECONDS: {{ $v.canary.intervalSeconds | int64 | quote }}
IOC_CANARY_DEADLINE_SECONDS: {{ $v.canary.deadlineSeconds | int64 | quote }}
IOC_CANARY_LISTEN: "0.0.0.0:{{ $v.canary.port }}"
{{- end -}}
