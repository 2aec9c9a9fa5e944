{{/*
The Spring Boot service of the order platform (api-gateway, order-command-service, order-query-service): one
design, so it lives here once. A chart using it defines the hooks these templates call back:
  "<chart>.configData"      its own non-secret settings (ConfigMap data; its keys win over the shared ones)
  "<chart>.secretKeys"      its credentials: [{key, env, valuePath, value}] (Secret key, env var, value path, value)
  "<chart>.validateValues"  its own impossible combinations, one message per line (may be empty)
*/}}

{{/* OIDC issuer of the Keycloak realm (config.keycloakUrl, config.keycloakRealm): tokens are validated against it. */}}
{{- define "nexus-lib.spring.issuerUri" -}}
{{- printf "%s/realms/%s" (trimSuffix "/" .Values.config.keycloakUrl) .Values.config.keycloakRealm }}
{{- end }}

{{/*
The environment every service reads, as ConfigMap data: the platform-wide settings below (port, actuator
endpoints, log level and JSON format, OpenTelemetry, JVM) merged with the chart's own "<chart>.configData".
Never credentials: those are in the Secret (nexus-lib.spring.secretEntries).
*/}}
{{- define "nexus-lib.spring.configData" -}}
{{- $common := dict
  "SERVER_PORT" (toString .Values.containerPort)
  "MANAGEMENT_ENDPOINTS_WEB_EXPOSURE_INCLUDE" "health,info,prometheus"
  "MANAGEMENT_ENDPOINTS_WEB_BASE_PATH" "/actuator"
  "MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED" "true"
  "MANAGEMENT_PROMETHEUS_METRICS_EXPORT_ENABLED" (toString .Values.metrics.enabled)
  "LOGGING_LEVEL_ROOT" .Values.config.logLevel
  "OTEL_SDK_DISABLED" (toString (not .Values.otel.enabled))
  "OTEL_SERVICE_NAME" (include "nexus-lib.name" .)
  "OTEL_EXPORTER_OTLP_ENDPOINT" .Values.otel.endpoint
  "OTEL_EXPORTER_OTLP_PROTOCOL" .Values.otel.protocol
  "OTEL_TRACES_SAMPLER" "parentbased_traceidratio"
  "OTEL_TRACES_SAMPLER_ARG" (toString .Values.otel.samplingRatio)
  "OTEL_METRICS_EXPORTER" "none"
  "OTEL_LOGS_EXPORTER" "none"
  "OTEL_RESOURCE_ATTRIBUTES" (printf "deployment.environment=%s,service.namespace=%s" .Values.environment .Values.otel.serviceNamespace)
  "JAVA_TOOL_OPTIONS" (printf "-XX:MaxRAMPercentage=%v -Djava.io.tmpdir=/tmp" .Values.jvm.maxRamPercentage)
}}
{{- if eq .Values.config.logFormat "json" }}
{{- /* Spring Boot structured logging: ECS JSON lines carrying trace and span ids. */}}
{{- $_ := set $common "LOGGING_STRUCTURED_FORMAT_CONSOLE" "ecs" }}
{{- end }}
{{- if include "nexus-lib.spring.tls" . }}
{{- /* TLS to Kafka, every server verified against the CA mounted at /tls (Kafka reads PEM trust stores). */}}
{{- $_ := set $common "SPRING_KAFKA_SECURITY_PROTOCOL" "SSL" }}
{{- $_ := set $common "SPRING_KAFKA_SSL_TRUST_STORE_TYPE" "PEM" }}
{{- $_ := set $common "SPRING_KAFKA_SSL_TRUST_STORE_LOCATION" (printf "file:%s" (include "nexus-lib.spring.tlsCaFile" .)) }}
{{- end }}
{{- $own := include (printf "%s.configData" .Chart.Name) . | fromYaml }}
{{- toYaml (merge $own $common) }}
{{- end }}

{{/* "true" when the service connects to its data stores over TLS (tls.enabled; a chart without the key: never). */}}
{{- define "nexus-lib.spring.tls" -}}
{{- if dig "tls" "enabled" false .Values.AsMap }}true{{ end }}
{{- end }}

{{/* Where the CA the service verifies servers against is mounted (key ca.crt of tls.caSecret). */}}
{{- define "nexus-lib.spring.tlsCaFile" -}}
/tls/ca.crt
{{- end }}

{{/* The chart's credential entries as YAML (parse with fromYamlArray): its "<chart>.secretKeys". */}}
{{- define "nexus-lib.spring.secretEntries" -}}
{{- include (printf "%s.secretKeys" .Chart.Name) . }}
{{- end }}

{{/* The Secret holding the service's credentials: the operator's (existingSecret) or the chart's own. */}}
{{- define "nexus-lib.spring.secretName" -}}
{{- default (include "nexus-lib.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* True when the chart has persistence and it is on: the workload is then a StatefulSet. */}}
{{- define "nexus-lib.spring.stateful" -}}
{{- if (dig "persistence" "enabled" false .Values.AsMap) }}true{{ end }}
{{- end }}

{{- define "nexus-lib.spring.kind" -}}
{{- ternary "StatefulSet" "Deployment" (eq (include "nexus-lib.spring.stateful" .) "true") }}
{{- end }}

{{/* The Spring-service checks, one message per line: every credential is given unless existingSecret names a Secret. */}}
{{- define "nexus-lib.spring.checks" -}}
{{- if not .Values.existingSecret }}
{{- range (include "nexus-lib.spring.secretEntries" . | fromYamlArray) }}
{{- if empty .value }}
{{ .valuePath }} is required when existingSecret is not set
{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The ConfigMap of the service's non-secret settings. */}}
{{- define "nexus-lib.spring.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "nexus-lib.metadata" (dict "context" .) | nindent 2 }}
data:
  {{- range $key, $value := (include "nexus-lib.spring.configData" . | fromYaml) }}
  {{ $key }}: {{ $value | toString | quote }}
  {{- end }}
{{- end }}

{{/* The chart's own Secret, only when no existingSecret is named (plain Helm passes the values with --set). */}}
{{- define "nexus-lib.spring.secret" -}}
{{- if not .Values.existingSecret }}
apiVersion: v1
kind: Secret
metadata:
  {{- include "nexus-lib.metadata" (dict "context" .) | nindent 2 }}
type: Opaque
stringData:
  {{- range (include "nexus-lib.spring.secretEntries" . | fromYamlArray) }}
  {{ .key }}: {{ .value | toString | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{/* The ClusterIP Service in front of the pods, plus a headless one for a StatefulSet's stable pod names. */}}
{{- define "nexus-lib.spring.service" -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "nexus-lib.metadata" (dict "context" .) | nindent 2 }}
spec:
  type: {{ .Values.service.type }}
  ports:
    - name: http
      port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
  selector:
    {{- include "nexus-lib.selectorLabels" . | nindent 4 }}
{{- if include "nexus-lib.spring.stateful" . }}
---
apiVersion: v1
kind: Service
metadata:
  {{- include "nexus-lib.metadata" (dict "context" . "name" (printf "%s-headless" (include "nexus-lib.fullname" .))) | nindent 2 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  ports:
    - name: http
      port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
  selector:
    {{- include "nexus-lib.selectorLabels" . | nindent 4 }}
{{- end }}
{{- end }}

{{/* The ServiceAccount; pods do not mount its token (the services never call the Kubernetes API). */}}
{{- define "nexus-lib.spring.serviceaccount" -}}
{{- include "nexus-lib.serviceAccount" (dict "context" .) }}
{{- end }}

{{/* CPU-based autoscaling (autoscaling.targetCPUUtilizationPercentage); replicaCount is the floor. */}}
{{- define "nexus-lib.spring.hpa" -}}
{{- if .Values.autoscaling.enabled }}
{{- include "nexus-lib.horizontalPodAutoscaler" (dict "context" . "kind" (include "nexus-lib.spring.kind" .) "minReplicas" .Values.replicaCount "maxReplicas" .Values.autoscaling.maxReplicas "cpu" .Values.autoscaling.targetCPUUtilizationPercentage) }}
{{- end }}
{{- end }}

{{/* Keeps podDisruptionBudget.minAvailable pods up during voluntary disruptions (node drains). */}}
{{- define "nexus-lib.spring.pdb" -}}
{{- if .Values.podDisruptionBudget.enabled }}
{{- include "nexus-lib.podDisruptionBudget" (dict "context" . "minAvailable" .Values.podDisruptionBudget.minAvailable) }}
{{- end }}
{{- end }}

{{/*
Who may talk to the pods: the peers in networkPolicy.allowFrom on the HTTP port, and the peers in
networkPolicy.metricsFrom (Prometheus) on the same port for /actuator/prometheus. Egress is left open
unless networkPolicy.restrictEgress is on; then only DNS and networkPolicy.egress are allowed.
*/}}
{{- define "nexus-lib.spring.networkpolicy" -}}
{{- if .Values.networkPolicy.enabled }}
{{- $net := .Values.networkPolicy }}
{{- $http := list (dict "port" "http" "protocol" "TCP") }}
{{- $ingress := list (dict "from" $net.allowFrom "ports" $http) }}
{{- with $net.metricsFrom }}
{{- $ingress = append $ingress (dict "from" . "ports" $http) }}
{{- end }}
{{- $args := dict "context" . "policyTypes" (list "Ingress") "ingress" $ingress }}
{{- if $net.restrictEgress }}
{{- $dns := dict "ports" (list (dict "port" 53 "protocol" "UDP") (dict "port" 53 "protocol" "TCP")) }}
{{- $_ := set $args "policyTypes" (list "Ingress" "Egress") }}
{{- $_ := set $args "egress" (prepend ($net.egress | default list) $dns) }}
{{- end }}
{{- include "nexus-lib.networkPolicy" $args }}
{{- end }}
{{- end }}

{{/* A Prometheus Operator ServiceMonitor (a CRD: off unless metrics.serviceMonitor.enabled). */}}
{{- define "nexus-lib.spring.servicemonitor" -}}
{{- if and .Values.metrics.enabled .Values.metrics.serviceMonitor.enabled }}
{{- $endpoint := dict "port" "http" "path" .Values.metrics.path "interval" .Values.metrics.serviceMonitor.interval }}
{{- include "nexus-lib.serviceMonitor" (dict "context" . "extraLabels" (dig "labels" dict .Values.metrics.serviceMonitor) "endpoints" (list $endpoint)) }}
{{- end }}
{{- end }}

{{/*
A Prometheus Operator PrometheusRule (metrics.prometheusRule.enabled): the service down, pods unavailable, an OOM
kill, and the autoscaler at its ceiling. Series from kube-state-metrics; every alert names severity, namespace and
service, with a runbook. Unit-tested with promtool (tests/charts/promtool/order-services.yaml).
*/}}
{{- define "nexus-lib.spring.prometheusrule" -}}
{{- if and .Values.metrics.enabled (dig "prometheusRule" "enabled" false .Values.metrics) }}
{{- $name := include "nexus-lib.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- $stateful := eq (include "nexus-lib.spring.stateful" .) "true" }}
{{- $workload := printf "namespace=%q, %s=%q" $ns (ternary "statefulset" "deployment" $stateful) $name }}
{{- $pods := printf "namespace=%q, pod=~%q" $ns (printf (ternary "%s-[0-9]+" "%s-[a-z0-9]{5,10}-[a-z0-9]{5}" $stateful) $name) }}
{{- $available := printf (ternary "kube_statefulset_status_replicas_ready{%s}" "kube_deployment_status_replicas_available{%s}" $stateful) $workload }}
{{- $unavailable := printf (ternary "kube_statefulset_replicas{%s} - kube_statefulset_status_replicas_ready{%s}" "kube_deployment_status_replicas_unavailable{%s}%.0s" $stateful) $workload $workload }}
{{- $labels := dict "namespace" $ns "service" $name }}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  {{- include "nexus-lib.metadata" (dict "context" . "extraLabels" (dig "prometheusRule" "labels" dict .Values.metrics)) | nindent 2 }}
spec:
  groups:
    - name: {{ $name }}
      rules:
        - alert: ServiceDown
          expr: {{ $available }} == 0
          for: 2m
          labels: {{ merge (dict "severity" "critical") $labels | toJson }}
          annotations:
            summary: "{{ $name }} has no available pod in {{ $ns }}"
            runbook: "kubectl -n {{ $ns }} get pods -l app.kubernetes.io/name={{ include "nexus-lib.name" . }}; describe the failing pod (image pull, probes, a dependency such as Keycloak or Kafka unreachable)."
        - alert: ServicePodsUnavailable
          expr: {{ $unavailable }} > 0
          for: 10m
          labels: {{ merge (dict "severity" "warning") $labels | toJson }}
          annotations:
            summary: "{{ $name }} in {{ $ns }} has had {{ "{{ $value }}" }} unavailable pods for 10 minutes"
            runbook: "kubectl -n {{ $ns }} describe {{ ternary "statefulset" "deployment" $stateful }} {{ $name }}: a rollout stuck on readiness, or pods that cannot be scheduled."
        - alert: ServiceContainerOOMKilled
          expr: (kube_pod_container_status_last_terminated_reason{ {{- $pods }}, reason="OOMKilled"} == 1) and on (namespace, pod, container) (increase(kube_pod_container_status_restarts_total{ {{- $pods -}} }[15m]) > 0)
          labels: {{ merge (dict "severity" "warning") $labels | toJson }}
          annotations:
            summary: "{{ $name }}: container {{ "{{ $labels.container }}" }} of {{ "{{ $labels.pod }}" }} in {{ $ns }} was OOM-killed"
            runbook: "Raise the service's resources.limits.memory in the stack file (the JVM heap follows it, jvm.maxRamPercentage)."
        {{- if .Values.autoscaling.enabled }}
        - alert: ServiceAutoscalerAtMaximum
          expr: kube_horizontalpodautoscaler_status_current_replicas{namespace={{ $ns | quote }}, horizontalpodautoscaler={{ $name | quote }}} >= kube_horizontalpodautoscaler_spec_max_replicas{namespace={{ $ns | quote }}, horizontalpodautoscaler={{ $name | quote }}}
          for: 15m
          labels: {{ merge (dict "severity" "warning") $labels | toJson }}
          annotations:
            summary: "{{ $name }} in {{ $ns }} has run at its autoscaler's maximum for 15 minutes"
            runbook: "Load exceeds what maxReplicas allows: raise the service's maxReplicas in the stack file, or find what made requests slower."
        {{- end }}
{{- end }}
{{- end }}

{{/* Pod anti-affinity from podAntiAffinity: soft (preferred), hard (required) or none. */}}
{{- define "nexus-lib.spring.affinity" -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "nexus-lib.selectorLabels" . | fromYaml)) }}
{{- if eq .Values.podAntiAffinity "hard" }}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    {{- list $term | toYaml | nindent 4 }}
{{- else if eq .Values.podAntiAffinity "soft" }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        {{- toYaml $term | nindent 8 }}
{{- end }}
{{- end }}

{{/*
The service's workload: a Deployment, or a StatefulSet with one PersistentVolumeClaim per replica when
the chart has persistence switched on (each replica needs its own volume: RocksDB state is per instance).
replicas is replicaCount without the autoscaler; with it the field is left out, because the autoscaler owns the
count (replicaCount becomes its minReplicas) and a declared value would reset the scale on every apply that
touches the workload until the autoscaler caught up.
*/}}
{{- define "nexus-lib.spring.workload" -}}
{{- include "nexus-lib.validateValues" (dict "context" . "checks" (list "nexus-lib.spring.checks")) }}
{{- $fullname := include "nexus-lib.fullname" . }}
{{- $stateful := include "nexus-lib.spring.stateful" . }}
{{- $persistence := dig "persistence" dict .Values.AsMap }}
{{- $owned := dict "config" (include "nexus-lib.spring.configData" .) }}
{{- if not .Values.existingSecret }}
{{- $_ := set $owned "secret" (include "nexus-lib.spring.secretEntries" .) }}
{{- end }}
apiVersion: apps/v1
kind: {{ include "nexus-lib.spring.kind" . }}
metadata:
  {{- /* A StatefulSet for its state store, not a data store others connect to (the policy pack's TLS rule). */}}
  {{- $role := ternary (dict "nexus-platform/data-store" "false") dict (eq $stateful "true") }}
  {{- include "nexus-lib.metadata" (dict "context" . "annotations" $role) | nindent 2 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- if $stateful }}
  serviceName: {{ $fullname }}-headless
  podManagementPolicy: Parallel
  persistentVolumeClaimRetentionPolicy:
    whenDeleted: {{ $persistence.whenDeleted }}
    whenScaled: Retain
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  {{- end }}
  selector:
    matchLabels:
      {{- include "nexus-lib.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        {{- $reads := prepend (include "nexus-lib.secretsReferenced" (dict "env" .Values.extraEnv) | fromJsonArray) (include "nexus-lib.spring.secretName" .) }}
        {{- include "nexus-lib.checksums" (dict "context" . "owned" $owned "reads" $reads) | nindent 8 }}
        {{- if .Values.metrics.enabled }}
        prometheus.io/scrape: "true"
        prometheus.io/path: {{ .Values.metrics.path | quote }}
        prometheus.io/port: {{ .Values.containerPort | quote }}
        {{- end }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "nexus-lib.labels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "nexus-lib.serviceAccountName" . }}
      automountServiceAccountToken: false
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "nexus-lib.podSecurityContext" . | nindent 8 }}
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      {{- with (include "nexus-lib.spring.affinity" .) }}
      affinity:
        {{- . | trim | nindent 8 }}
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .Chart.Name }}
          image: {{ include "nexus-lib.image" (dict "image" .Values.image "context" .) | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .Values.containerPort }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ $fullname }}
          env:
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            {{- range (include "nexus-lib.spring.secretEntries" . | fromYamlArray) }}
            - name: {{ .env }}
              valueFrom:
                secretKeyRef:
                  name: {{ include "nexus-lib.spring.secretName" $ }}
                  key: {{ .key }}
            {{- end }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet:
              path: /actuator/health/liveness
              port: http
            periodSeconds: 5
            failureThreshold: {{ .Values.probes.startupFailureThreshold }}
          livenessProbe:
            httpGet:
              path: /actuator/health/liveness
              port: http
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /actuator/health/readiness
              port: http
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 3
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- include "nexus-lib.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if $persistence }}
            - name: state
              mountPath: {{ $persistence.mountPath }}
            {{- end }}
            {{- if include "nexus-lib.spring.tls" . }}
            - name: tls-ca
              mountPath: {{ dir (include "nexus-lib.spring.tlsCaFile" .) }}
              readOnly: true
            {{- end }}
      volumes:
        # The root filesystem is read-only: the JVM and Tomcat write here.
        - name: tmp
          emptyDir:
            sizeLimit: {{ .Values.tmpDir.sizeLimit }}
        {{- if include "nexus-lib.spring.tls" . }}
        # Only the CA of the service's certificate Secret (cert-manager's), never its key.
        - name: tls-ca
          secret:
            secretName: {{ required "tls.caSecret is required when tls.enabled" .Values.tls.caSecret }}
            items: [{key: ca.crt, path: ca.crt}]
        {{- end }}
        {{- if and $persistence (not $stateful) }}
        - name: state
          emptyDir:
            sizeLimit: {{ $persistence.size }}
        {{- end }}
  {{- if $stateful }}
  volumeClaimTemplates:
    - apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: state
        labels:
          {{- include "nexus-lib.selectorLabels" . | nindent 10 }}
      spec:
        accessModes:
          {{- toYaml $persistence.accessModes | nindent 10 }}
        {{- with $persistence.storageClass }}
        storageClassName: {{ . | quote }}
        {{- end }}
        resources:
          requests:
            storage: {{ $persistence.size }}
  {{- end }}
{{- end }}

{{/* What every service's NOTES.txt says: where it runs, how to check it, where its metrics are. */}}
{{- define "nexus-lib.spring.notes" -}}
{{- $fullname := include "nexus-lib.fullname" . }}
{{ .Chart.Name }} ({{ .Values.environment }}) is installed as release {{ .Release.Name }} in namespace {{ .Release.Namespace }}.

In-cluster URL: http://{{ $fullname }}.{{ .Release.Namespace }}.svc.cluster.local:{{ .Values.service.port }}

Check the rollout:
  kubectl -n {{ .Release.Namespace }} rollout status {{ include "nexus-lib.spring.kind" . | lower }}/{{ $fullname }}
  kubectl -n {{ .Release.Namespace }} get pods -l app.kubernetes.io/instance={{ .Release.Name }}

Metrics (Prometheus format):
  kubectl -n {{ .Release.Namespace }} port-forward svc/{{ $fullname }} 8080:{{ .Values.service.port }}
  curl http://localhost:8080{{ .Values.metrics.path }}
{{- if .Values.existingSecret }}

Credentials are read from the Secret {{ .Values.existingSecret }} (keys:{{ range (include "nexus-lib.spring.secretEntries" . | fromYamlArray) }} {{ .key }}{{ end }}).
{{- end }}
{{- end }}
