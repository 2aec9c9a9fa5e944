{{/*
The environment every service reads, as ConfigMap data: the platform-wide settings below (port,
actuator endpoints, log level and JSON format, OpenTelemetry, JVM) merged with the chart's own
"<chart>.configData" (its service-specific settings; the chart's keys win). Never credentials:
those are in the Secret (order-service-lib.secretEntries).
*/}}
{{- define "order-service-lib.configData" -}}
{{- $common := dict
  "SERVER_PORT" (toString .Values.containerPort)
  "MANAGEMENT_ENDPOINTS_WEB_EXPOSURE_INCLUDE" "health,info,prometheus"
  "MANAGEMENT_ENDPOINTS_WEB_BASE_PATH" "/actuator"
  "MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED" "true"
  "MANAGEMENT_PROMETHEUS_METRICS_EXPORT_ENABLED" (toString .Values.metrics.enabled)
  "LOGGING_LEVEL_ROOT" .Values.config.logLevel
  "OTEL_SDK_DISABLED" (toString (not .Values.otel.enabled))
  "OTEL_SERVICE_NAME" (include "order-service-lib.name" .)
  "OTEL_EXPORTER_OTLP_ENDPOINT" .Values.otel.endpoint
  "OTEL_EXPORTER_OTLP_PROTOCOL" .Values.otel.protocol
  "OTEL_TRACES_SAMPLER" "parentbased_traceidratio"
  "OTEL_TRACES_SAMPLER_ARG" (toString .Values.otel.samplingRatio)
  "OTEL_METRICS_EXPORTER" "none"
  "OTEL_LOGS_EXPORTER" "none"
  "OTEL_RESOURCE_ATTRIBUTES" (printf "deployment.environment=%s,service.namespace=%s" .Values.environment .Values.partOf)
  "JAVA_TOOL_OPTIONS" (printf "-XX:MaxRAMPercentage=%v -Djava.io.tmpdir=/tmp" .Values.jvm.maxRamPercentage)
}}
{{- if eq .Values.config.logFormat "json" }}
{{- /* Spring Boot structured logging: ECS JSON lines carrying trace and span ids. */}}
{{- $_ := set $common "LOGGING_STRUCTURED_FORMAT_CONSOLE" "ecs" }}
{{- end }}
{{- $own := include (printf "%s.configData" .Chart.Name) . | fromYaml }}
{{- toYaml (merge $own $common) }}
{{- end }}

{{/* The ConfigMap of the service's non-secret settings. */}}
{{- define "order-service-lib.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "order-service-lib.fullname" . }}
  labels:
    {{- include "order-service-lib.labels" . | nindent 4 }}
data:
  {{- range $key, $value := (include "order-service-lib.configData" . | fromYaml) }}
  {{ $key }}: {{ $value | toString | quote }}
  {{- end }}
{{- end }}

{{/*
The chart's own Secret, only when no existingSecret is named: built from the values the chart lists in
"<chart>.secretKeys" (plain-Helm installs pass them with --set or a values file kept out of Git).
*/}}
{{- define "order-service-lib.secret" -}}
{{- if not .Values.existingSecret }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "order-service-lib.fullname" . }}
  labels:
    {{- include "order-service-lib.labels" . | nindent 4 }}
type: Opaque
stringData:
  {{- range (include "order-service-lib.secretEntries" . | fromYamlArray) }}
  {{ .key }}: {{ .value | toString | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{/* The ServiceAccount; pods do not mount its token (the services never call the Kubernetes API). */}}
{{- define "order-service-lib.serviceaccount" -}}
{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "order-service-lib.serviceAccountName" . }}
  labels:
    {{- include "order-service-lib.labels" . | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end }}
