{{/*
The Secrets for values given inline, as named templates so each Deployment's checksum covers only
the secrets it reads. Values taken from an existingSecret are not copied, so a Secret is only
created when it has something to hold.
*/}}

{{- define "ioc.ingestSecretManifest" -}}
{{- $v := .Values }}
{{- $keys := $v.ingest.sourceKeys }}
{{- $pseudo := $v.ingest.pseudonymisationKey }}
{{- $inlineKeys := and (not $keys.existingSecret) (or $keys.portal $keys.edoc $keys.training) }}
{{- $inlinePseudo := and (not $pseudo.existingSecret) $pseudo.value }}
{{- if or $inlineKeys $inlinePseudo }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "ioc.fullname" . }}-ingest
  labels:
    {{- include "ioc.componentLabels" (dict "root" . "component" "ingest") | nindent 4 }}
type: Opaque
stringData:
  {{- if $inlineKeys }}
  {{- range $source := list "portal" "edoc" "training" }}
  {{- with get $keys $source }}
  {{ $source }}: {{ join "," . | quote }}
  {{- end }}
  {{- end }}
  {{- end }}
  {{- if $inlinePseudo }}
  pseudonymisation-key: {{ $pseudo.value | quote }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "ioc.clickhouseSecretManifest" -}}
{{- $v := .Values }}
{{- $chProcessor := and (not $v.clickhouse.processor.existingSecret) $v.clickhouse.processor.password }}
{{- $chApi := and (not $v.clickhouse.api.existingSecret) $v.clickhouse.api.password }}
{{- if or $chProcessor $chApi }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "ioc.clickhouseSecret" . }}
  labels:
    {{- include "ioc.componentLabels" (dict "root" . "component" "clickhouse-credentials") | nindent 4 }}
type: Opaque
stringData:
  {{- if $chProcessor }}
  processor-password: {{ $v.clickhouse.processor.password | quote }}
  {{- end }}
  {{- if $chApi }}
  api-password: {{ $v.clickhouse.api.password | quote }}
  {{- end }}
{{- end }}
{{- end -}}
