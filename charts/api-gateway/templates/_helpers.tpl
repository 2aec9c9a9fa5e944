{{/*
api-gateway: the helm-create helpers, delegating to the order-service-lib library chart, plus the hooks the
library calls back (component, configData, secretKeys, validateValues) with what is specific to this service.
*/}}

{{- define "api-gateway.name" -}}
{{- include "order-service-lib.name" . }}
{{- end }}

{{- define "api-gateway.fullname" -}}
{{- include "order-service-lib.fullname" . }}
{{- end }}

{{- define "api-gateway.chart" -}}
{{- include "order-service-lib.chart" . }}
{{- end }}

{{- define "api-gateway.labels" -}}
{{- include "order-service-lib.labels" . }}
{{- end }}

{{- define "api-gateway.selectorLabels" -}}
{{- include "order-service-lib.selectorLabels" . }}
{{- end }}

{{/* Value of the app.kubernetes.io/component label. */}}
{{- define "api-gateway.component" -}}
gateway
{{- end }}

{{/* OIDC issuer of the Keycloak realm: tokens are validated against it. */}}
{{- define "api-gateway.issuerUri" -}}
{{- printf "%s/realms/%s" (trimSuffix "/" .Values.config.keycloakUrl) .Values.config.keycloakRealm }}
{{- end }}

{{/* Service-specific, non-secret settings (ConfigMap data). */}}
{{- define "api-gateway.configData" -}}
AUTH_ISSUER_URI: {{ include "api-gateway.issuerUri" . | quote }}
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

{{/* Gateway-specific impossible combinations, one message per line. */}}
{{- define "api-gateway.validateValues" -}}
{{- if and .Values.ingress.enabled (empty .Values.ingress.tls) }}
ingress.tls is empty: every Ingress of the platform serves TLS (cert-manager issues the certificate)
{{- end }}
{{- end }}
