{{/*
order-command-service: the helm-create helpers, delegating to the order-service-lib library chart, plus the hooks the
library calls back (component, configData, secretKeys, validateValues) with what is specific to this service.
*/}}

{{- define "order-command-service.name" -}}
{{- include "order-service-lib.name" . }}
{{- end }}

{{- define "order-command-service.fullname" -}}
{{- include "order-service-lib.fullname" . }}
{{- end }}

{{- define "order-command-service.chart" -}}
{{- include "order-service-lib.chart" . }}
{{- end }}

{{- define "order-command-service.labels" -}}
{{- include "order-service-lib.labels" . }}
{{- end }}

{{- define "order-command-service.selectorLabels" -}}
{{- include "order-service-lib.selectorLabels" . }}
{{- end }}

{{/* Value of the app.kubernetes.io/component label. */}}
{{- define "order-command-service.component" -}}
command
{{- end }}

{{/* OIDC issuer of the Keycloak realm: tokens are validated against it. */}}
{{- define "order-command-service.issuerUri" -}}
{{- printf "%s/realms/%s" (trimSuffix "/" .Values.config.keycloakUrl) .Values.config.keycloakRealm }}
{{- end }}

{{/* Service-specific, non-secret settings (ConfigMap data). */}}
{{- define "order-command-service.configData" -}}
SPRING_DATASOURCE_URL: {{ printf "jdbc:postgresql://%s:%v/%s" .Values.config.postgresHost .Values.config.postgresPort .Values.config.postgresDatabase | quote }}
SPRING_DATASOURCE_USERNAME: {{ .Values.config.postgresUser | quote }}
KAFKA_BOOTSTRAP_SERVERS: {{ .Values.config.kafkaBootstrapServers | quote }}
SNAPSHOT_INTERVAL: {{ .Values.config.snapshotInterval | quote }}
AUTH_ISSUER_URI: {{ include "order-command-service.issuerUri" . | quote }}
AUTH_CLIENT_ID: {{ .Values.config.keycloakClientId | quote }}
{{- end }}

{{/* Credentials: Secret key, the environment variable it becomes, and the value for a chart-made Secret. */}}
{{- define "order-command-service.secretKeys" -}}
- key: postgres-password
  env: SPRING_DATASOURCE_PASSWORD
  valuePath: secrets.postgresPassword
  value: {{ .Values.secrets.postgresPassword | quote }}
- key: keycloak-client-secret
  env: AUTH_CLIENT_SECRET
  valuePath: secrets.keycloakClientSecret
  value: {{ .Values.secrets.keycloakClientSecret | quote }}
{{- end }}

{{/* Command-service-specific impossible combinations, one message per line. */}}
{{- define "order-command-service.validateValues" -}}
{{- if not (hasPrefix "orderdb_" .Values.config.postgresDatabase) }}
config.postgresDatabase ({{ .Values.config.postgresDatabase }}) must be the event store orderdb_<environment>
{{- end }}
{{- end }}
