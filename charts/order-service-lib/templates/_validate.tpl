{{/*
Impossible combinations, checked before anything renders: the platform-wide ones here plus the chart's
own "<chart>.validateValues" (one message per line). Fails with every problem at once.
*/}}
{{- define "order-service-lib.validateValues" -}}
{{- $messages := list }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.replicaCount)) }}
{{- $messages = append $messages (printf "autoscaling.maxReplicas (%v) must be at least replicaCount (%v), the autoscaler's floor" .Values.autoscaling.maxReplicas .Values.replicaCount) }}
{{- end }}
{{- $minAvailable := .Values.podDisruptionBudget.minAvailable }}
{{- if and .Values.podDisruptionBudget.enabled (not (kindIs "string" $minAvailable)) (ge (int $minAvailable) (int .Values.replicaCount)) }}
{{- $messages = append $messages (printf "podDisruptionBudget.minAvailable (%v) must be below replicaCount (%v), or no node could ever be drained" .Values.podDisruptionBudget.minAvailable .Values.replicaCount) }}
{{- end }}
{{- if and .Values.networkPolicy.enabled (empty .Values.networkPolicy.allowFrom) }}
{{- $messages = append $messages "networkPolicy.allowFrom is empty: with networkPolicy.enabled it must list who may reach the service" }}
{{- end }}
{{- if not .Values.existingSecret }}
{{- range (include "order-service-lib.secretEntries" . | fromYamlArray) }}
{{- if empty .value }}
{{- $messages = append $messages (printf "%s is required when existingSecret is not set" .valuePath) }}
{{- end }}
{{- end }}
{{- end }}
{{- range (include (printf "%s.validateValues" .Chart.Name) . | splitList "\n") }}
{{- if . }}
{{- $messages = append $messages . }}
{{- end }}
{{- end }}
{{- if $messages }}
{{- fail (printf "\n%s: invalid values:\n  - %s" .Chart.Name (join "\n  - " $messages)) }}
{{- end }}
{{- end }}

{{/* What every service's NOTES.txt says: where it runs, how to check it, where its metrics are. */}}
{{- define "order-service-lib.notes" -}}
{{- $fullname := include "order-service-lib.fullname" . }}
{{ .Chart.Name }} ({{ .Values.environment }}) is installed as release {{ .Release.Name }} in namespace {{ .Release.Namespace }}.

In-cluster URL: http://{{ $fullname }}.{{ .Release.Namespace }}.svc.cluster.local:{{ .Values.service.port }}

Check the rollout:
  kubectl -n {{ .Release.Namespace }} rollout status {{ ternary "statefulset" "deployment" (eq (include "order-service-lib.stateful" .) "true") }}/{{ $fullname }}
  kubectl -n {{ .Release.Namespace }} get pods -l app.kubernetes.io/instance={{ .Release.Name }}

Metrics (Prometheus format):
  kubectl -n {{ .Release.Namespace }} port-forward svc/{{ $fullname }} 8080:{{ .Values.service.port }}
  curl http://localhost:8080{{ .Values.metrics.path }}
{{- if .Values.existingSecret }}

Credentials are read from the Secret {{ .Values.existingSecret }} (keys:{{ range (include "order-service-lib.secretEntries" . | fromYamlArray) }} {{ .key }}{{ end }}).
{{- end }}
{{- end }}
