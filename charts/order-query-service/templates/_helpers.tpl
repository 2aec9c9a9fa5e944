{{/*
order-query-service: the helm-create helpers, delegating to the order-service-lib library chart, plus the hooks the
library calls back (component, configData, secretKeys, validateValues) with what is specific to this service.
*/}}

{{- define "order-query-service.name" -}}
{{- include "order-service-lib.name" . }}
{{- end }}

{{- define "order-query-service.fullname" -}}
{{- include "order-service-lib.fullname" . }}
{{- end }}

{{- define "order-query-service.chart" -}}
{{- include "order-service-lib.chart" . }}
{{- end }}

{{- define "order-query-service.labels" -}}
{{- include "order-service-lib.labels" . }}
{{- end }}

{{- define "order-query-service.selectorLabels" -}}
{{- include "order-service-lib.selectorLabels" . }}
{{- end }}

{{/* Value of the app.kubernetes.io/component label. */}}
{{- define "order-query-service.component" -}}
query
{{- end }}

{{/* OIDC issuer of the Keycloak realm: tokens are validated against it. */}}
{{- define "order-query-service.issuerUri" -}}
{{- printf "%s/realms/%s" (trimSuffix "/" .Values.config.keycloakUrl) .Values.config.keycloakRealm }}
{{- end }}

{{/* Service-specific, non-secret settings (ConfigMap data). */}}
{{- define "order-query-service.configData" -}}
KAFKA_BOOTSTRAP_SERVERS: {{ .Values.config.kafkaBootstrapServers | quote }}
KAFKA_STREAMS_APPLICATION_ID: {{ .Values.config.kafkaApplicationId | quote }}
KAFKA_STREAMS_PROCESSING_GUARANTEE: {{ .Values.config.kafkaProcessingGuarantee | quote }}
KAFKA_STREAMS_STATE_DIR: {{ .Values.persistence.mountPath | quote }}
ELASTICSEARCH_HOSTS: {{ join "," .Values.config.elasticsearchHosts | quote }}
ELASTICSEARCH_INDEX_NAME: {{ .Values.config.elasticsearchIndexName | quote }}
ELASTICSEARCH_USERNAME: {{ .Values.config.elasticsearchUsername | quote }}
AUTH_ISSUER_URI: {{ include "order-query-service.issuerUri" . | quote }}
AUTH_CLIENT_ID: {{ .Values.config.keycloakClientId | quote }}
{{- end }}

{{/* Credentials: Secret key, the environment variable it becomes, and the value for a chart-made Secret. */}}
{{- define "order-query-service.secretKeys" -}}
- key: elasticsearch-password
  env: ELASTICSEARCH_PASSWORD
  valuePath: secrets.elasticsearchPassword
  value: {{ .Values.secrets.elasticsearchPassword | quote }}
- key: keycloak-client-secret
  env: AUTH_CLIENT_SECRET
  valuePath: secrets.keycloakClientSecret
  value: {{ .Values.secrets.keycloakClientSecret | quote }}
{{- end }}

{{/* Query-service-specific impossible combinations, one message per line. */}}
{{- define "order-query-service.validateValues" -}}
{{- if and .Values.persistence.enabled (not .Values.persistence.accessModes) }}
persistence.accessModes is empty: the state-store volumes need an access mode such as ReadWriteOnce
{{- end }}
{{- end }}
