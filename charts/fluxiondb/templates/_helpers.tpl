{{/* Chart name, overridable. */}}
{{- define "fluxiondb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full object name prefix: the release name when it already contains the chart name (fluxiondb-<tenant>). */}}
{{- define "fluxiondb.fullname" -}}
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

{{- define "fluxiondb.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: name and instance only (selectors are immutable). */}}
{{- define "fluxiondb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fluxiondb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "fluxiondb.labels" -}}
helm.sh/chart: {{ include "fluxiondb.chart" . }}
{{ include "fluxiondb.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: database
app.kubernetes.io/part-of: nexus-platform
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "fluxiondb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fluxiondb.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the API key: an existing one when named, else the one this chart creates. */}}
{{- define "fluxiondb.secretName" -}}
{{- if .Values.secret.name }}
{{- .Values.secret.name }}
{{- else }}
{{- printf "%s-api-key" (include "fluxiondb.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "fluxiondb.createSecret" -}}
{{- if and .Values.secret.create (not .Values.secret.name) }}true{{ end }}
{{- end }}

{{- define "fluxiondb.claimName" -}}
{{- if .Values.persistence.existingClaim }}
{{- .Values.persistence.existingClaim }}
{{- else }}
{{- printf "%s-data" (include "fluxiondb.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Impossible combinations, collected and reported at once. The schema catches malformed values; this
catches values that are each fine but wrong together.
*/}}
{{- define "fluxiondb.validateValues" -}}
{{- $problems := list }}
{{- if ne (int .Values.replicaCount) 1 }}
{{- $problems = append $problems "replicaCount must be 1: FluxionDB is a single-pod database; scale it vertically with more RAM" }}
{{- end }}
{{- if and (not .Values.secret.name) (not .Values.secret.create) }}
{{- $problems = append $problems "secret: set secret.name to an existing Secret, or secret.create=true with secret.secretKey" }}
{{- end }}
{{- if and (include "fluxiondb.createSecret" .) (not .Values.secret.secretKey) }}
{{- $problems = append $problems "secret.secretKey is required (the tenant's API key) unless secret.name names an existing Secret" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.tls) }}
{{- $problems = append $problems "ingress.tls: an enabled ingress must terminate TLS; add at least one tls entry" }}
{{- end }}
{{- if $problems }}
{{- fail (printf "\n\nFluxionDB values are invalid:\n  - %s" (join "\n  - " $problems)) }}
{{- end }}
{{- end }}
