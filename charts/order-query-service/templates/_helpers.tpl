{{/*
order-query-service: only what is its own. Names, labels, the workload, Service, HPA, PDB, NetworkPolicy and
ServiceMonitor come from the nexus-lib library chart (its Spring Boot service, nexus-lib.spring.*), which
calls back the hooks below.
*/}}

{{/* Service-specific, non-secret settings (ConfigMap data). */}}
{{- define "order-query-service.configData" -}}
KAFKA_BOOTSTRAP_SERVERS: {{ .Values.config.kafkaBootstrapServers | quote }}
KAFKA_STREAMS_APPLICATION_ID: {{ .Values.config.kafkaApplicationId | quote }}
KAFKA_STREAMS_PROCESSING_GUARANTEE: {{ .Values.config.kafkaProcessingGuarantee | quote }}
KAFKA_STREAMS_STATE_DIR: {{ .Values.persistence.mountPath | quote }}
ELASTICSEARCH_HOSTS: {{ join "," .Values.config.elasticsearchHosts | quote }}
ELASTICSEARCH_INDEX_NAME: {{ .Values.config.elasticsearchIndexName | quote }}
ELASTICSEARCH_USERNAME: {{ .Values.config.elasticsearchUsername | quote }}
AUTH_ISSUER_URI: {{ include "nexus-lib.spring.issuerUri" . | quote }}
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
