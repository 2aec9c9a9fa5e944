{{/*
Names and labels. Every template here is called with the consuming chart's root context, so
.Chart is the consuming chart (api-gateway, ...), never this library.
*/}}

{{/* The chart name, overridable with nameOverride. */}}
{{- define "order-service-lib.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release-qualified name; the release name alone when it already contains the chart name. */}}
{{- define "order-service-lib.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart-version, as used in the helm.sh/chart label. */}}
{{- define "order-service-lib.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "order-service-lib.labels" -}}
helm.sh/chart: {{ include "order-service-lib.chart" . }}
{{ include "order-service-lib.selectorLabels" . }}
app.kubernetes.io/version: {{ (.Values.image.tag | default .Chart.AppVersion) | toString | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: {{ include (printf "%s.component" .Chart.Name) . | quote }}
app.kubernetes.io/part-of: {{ .Values.partOf | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels: name and instance only, because selectors are immutable. */}}
{{- define "order-service-lib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "order-service-lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount pods run as. */}}
{{- define "order-service-lib.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "order-service-lib.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the service's credentials: the operator's (existingSecret) or the chart's own. */}}
{{- define "order-service-lib.secretName" -}}
{{- default (include "order-service-lib.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* registry/repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "order-service-lib.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- if .Values.image.registry }}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The chart's secret entries as YAML: its own "<chart>.secretKeys" template lists {key, env, value, valuePath}
for every credential the service reads. Callers parse it with fromYamlArray.
*/}}
{{- define "order-service-lib.secretEntries" -}}
{{- include (printf "%s.secretKeys" .Chart.Name) . }}
{{- end }}
