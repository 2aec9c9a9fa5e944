{{/*
fluxiondb: only what is its own (the API-key Secret and the data claim). Names, labels, security contexts,
checksums, validation, the ServiceAccount and the NetworkPolicy object come from the nexus-lib library chart.
*/}}

{{/* The Secret holding the API key: an existing one when named, else the one this chart creates. */}}
{{- define "fluxiondb.secretName" -}}
{{- if .Values.secret.name }}
{{- .Values.secret.name }}
{{- else }}
{{- printf "%s-api-key" (include "nexus-lib.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "fluxiondb.createSecret" -}}
{{- if and .Values.secret.create (not .Values.secret.name) }}true{{ end }}
{{- end }}

{{- define "fluxiondb.claimName" -}}
{{- if .Values.persistence.existingClaim }}
{{- .Values.persistence.existingClaim }}
{{- else }}
{{- printf "%s-data" (include "nexus-lib.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
FluxionDB's own impossible combinations, one message per line (nexus-lib.validateValues adds the shared ones,
an Ingress without TLS among them, and fails with all of them at once). The schema catches malformed values;
this catches values that are each fine but wrong together.
*/}}
{{- define "fluxiondb.validateValues" -}}
{{- if ne (int .Values.replicaCount) 1 }}
replicaCount must be 1: FluxionDB is a single-pod database; scale it vertically with more RAM
{{ end }}
{{- if and (not .Values.secret.name) (not .Values.secret.create) }}
secret: set secret.name to an existing Secret, or secret.create=true with secret.secretKey
{{ end }}
{{- if and (include "fluxiondb.createSecret" .) (not .Values.secret.secretKey) }}
secret.secretKey is required (the tenant's API key) unless secret.name names an existing Secret
{{ end }}
{{- end }}
