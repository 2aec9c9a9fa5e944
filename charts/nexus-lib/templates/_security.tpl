{{/*
Security contexts. Called with the root context: the chart's own podSecurityContext / securityContext values
(each chart's schema refuses weaker settings). Called with anything else (a uid for the pod context): the
platform's hardened default, for charts whose images each run as their own user.
*/}}

{{- define "nexus-lib.podSecurityContext" -}}
{{- $own := dict }}
{{- if and (kindIs "map" .) (hasKey . "Values") }}{{- $own = dig "podSecurityContext" dict .Values.AsMap }}{{- end }}
{{- if $own }}
{{- toYaml $own }}
{{- else }}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}
{{- end }}

{{/* Read-only root filesystem (emptyDir volumes for the paths a process writes), no privilege, no capabilities. */}}
{{- define "nexus-lib.containerSecurityContext" -}}
{{- $own := dict }}
{{- if and (kindIs "map" .) (hasKey . "Values") }}{{- $own = dig "securityContext" dict .Values.AsMap }}{{- end }}
{{- if $own }}
{{- toYaml $own }}
{{- else }}
runAsNonRoot: true
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}
{{- end }}
