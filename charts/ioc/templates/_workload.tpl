{{/*
The Deployment every service shares: (dict "root" $ "component" "ingest" "env" <yaml list>
"volumes" <yaml list> "mounts" <yaml list> "autoscaled" bool)
Optional, for the canary: "replicas" (instead of <component>.replicas), "annotations" (<yaml map>
on the Deployment) and "secrets" (the template of the chart-made Secret the pods read, for the
checksum; "" for none; default: ingest's for ingest, ClickHouse's for the others).
*/}}
{{- define "ioc.deployment" -}}
{{- $root := .root -}}
{{- $component := .component -}}
{{- $values := get $root.Values $component -}}
{{- $fullname := include "ioc.fullname" $root -}}
{{- $selector := dict "root" $root "component" $component -}}
{{- $replicas := $values.replicas -}}
{{- if hasKey . "replicas" }}{{ $replicas = .replicas }}{{ end -}}
{{- $secrets := ternary "ioc.ingestSecretManifest" "ioc.clickhouseSecretManifest" (eq $component "ingest") -}}
{{- if hasKey . "secrets" }}{{ $secrets = .secrets }}{{ end -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}-{{ $component }}
  labels:
    {{- include "ioc.componentLabels" $selector | nindent 4 }}
  {{- with .annotations }}
  annotations:
    {{- . | nindent 4 }}
  {{- end }}
spec:
  {{- if not .autoscaled }}
  replicas: {{ $replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "ioc.selectorLabels" $selector | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "ioc.componentLabels" $selector | nindent 8 }}
      annotations:
        # A changed setting or secret changes the pod template, so the pods roll.
        checksum/config: {{ include (printf "ioc.%sSettings" $component) $root | sha256sum }}
        {{- with $secrets }}
        checksum/secrets: {{ include . $root | sha256sum }}
        {{- end }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ $fullname }}-{{ $component }}
      {{- include "ioc.podSecurity" $root | nindent 6 }}
      terminationGracePeriodSeconds: {{ include "ioc.terminationGrace" $values }}
      {{- include "ioc.topologySpread" $selector | nindent 6 }}
      {{- with $values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ $component }}
          image: {{ include "ioc.image" (dict "root" $root "name" (printf "ioc-%s" $component)) }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          {{- if eq $component "processor" }}
          args: ["run"]
          {{- end }}
          ports:
            - name: http
              containerPort: {{ $values.port }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ $fullname }}-{{ $component }}
          {{- if or .env $values.extraEnv }}
          env:
            {{- with .env }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with $values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- end }}
          {{- include "ioc.containerSecurity" $root | nindent 10 }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          # Started within seconds; readiness asks the service whether its Kafka and ClickHouse
          # connections work, liveness only whether it answers.
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
            failureThreshold: 30
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: 5
            timeoutSeconds: 4
            failureThreshold: 2
          lifecycle:
            # Lets the endpoints and load balancers drop the pod before SIGTERM closes the
            # listener (the image has no shell: the kubelet's own sleep action).
            preStop:
              sleep:
                seconds: 5
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with .mounts }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        # The root filesystem is read-only; a small /tmp for whatever a library may want.
        - name: tmp
          emptyDir:
            sizeLimit: 16Mi
        {{- with .volumes }}
        {{- . | nindent 8 }}
        {{- end }}
{{- end -}}
