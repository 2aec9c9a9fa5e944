{{/*
order-command-service: only what is its own. Names, labels, the workload, Service, HPA, PDB, NetworkPolicy and
ServiceMonitor come from the nexus-lib library chart (its Spring Boot service, nexus-lib.spring.*), which
calls back the hooks below.
*/}}

{{/* Service-specific, non-secret settings (ConfigMap data). */}}
{{- define "order-command-service.configData" -}}
{{- $tls := ternary (printf "?sslmode=verify-full&sslrootcert=%s" (include "nexus-lib.spring.tlsCaFile" .)) "" (eq (include "nexus-lib.spring.tls" .) "true") }}
SPRING_DATASOURCE_URL: {{ printf "jdbc:postgresql://%s:%v/%s%s" .Values.config.postgresHost .Values.config.postgresPort .Values.config.postgresDatabase $tls | quote }}
SPRING_DATASOURCE_USERNAME: {{ .Values.config.postgresUser | quote }}
KAFKA_BOOTSTRAP_SERVERS: {{ .Values.config.kafkaBootstrapServers | quote }}
SNAPSHOT_INTERVAL: {{ .Values.config.snapshotInterval | quote }}
AUTH_ISSUER_URI: {{ include "nexus-lib.spring.issuerUri" . | quote }}
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
