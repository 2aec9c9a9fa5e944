{{/*
api-gateway: only what is its own. Names, labels, the workload, Service, HPA, PDB, NetworkPolicy and
ServiceMonitor come from the nexus-lib library chart (its Spring Boot service, nexus-lib.spring.*), which
calls back the hooks below.
*/}}

{{/* Service-specific, non-secret settings (ConfigMap data). */}}
{{- define "api-gateway.configData" -}}
AUTH_ISSUER_URI: {{ include "nexus-lib.spring.issuerUri" . | quote }}
AUTH_CLIENT_ID: {{ .Values.config.keycloakClientId | quote }}
ORDER_COMMAND_SERVICE_URL: {{ .Values.config.commandServiceUrl | quote }}
ORDER_QUERY_SERVICE_URL: {{ .Values.config.queryServiceUrl | quote }}
RATE_LIMIT_REQUESTS_PER_MINUTE: {{ .Values.config.rateLimitRequestsPerMinute | quote }}
{{- end }}

{{/* Credentials: Secret key, the environment variable it becomes, and the value for a chart-made Secret. */}}
{{- define "api-gateway.secretKeys" -}}
- key: keycloak-client-secret
  env: AUTH_CLIENT_SECRET
  valuePath: secrets.keycloakClientSecret
  value: {{ .Values.secrets.keycloakClientSecret | quote }}
{{- end }}

{{/* Gateway-specific impossible combinations, one message per line: none beyond the shared ones (an Ingress
without TLS is refused by nexus-lib.sharedChecks). */}}
{{- define "api-gateway.validateValues" -}}
{{- end }}
