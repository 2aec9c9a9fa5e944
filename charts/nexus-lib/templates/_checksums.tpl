{{/*
Pod-template checksum annotations, so pods roll when what they read changes:
- `checksum/<key>`: the sha256 of each chart-owned ConfigMap/Secret content in "owned";
- `checksum/secret-<name>`: for each Secret in "reads" (the Secrets the pod reads, owned or not) that the
  caller lists in the `secretChecksums` value (Secret name -> any string, e.g. a hash of its data or a
  rotation counter). A Secret this chart does not own changes without the chart knowing: the value carries it.
(dict "context" $ "owned" (dict "config" <content> ...) "reads" (list "<secret name>" ...))
*/}}
{{- define "nexus-lib.checksums" -}}
{{- range $key, $content := (get . "owned" | default dict) }}
checksum/{{ $key }}: {{ $content | sha256sum | quote }}
{{- end }}
{{- $given := dig "secretChecksums" dict .context.Values.AsMap }}
{{- range $name := (get . "reads" | default list | uniq) }}
{{- if hasKey $given $name }}
checksum/secret-{{ $name }}: {{ index $given $name | toString | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The Secrets referenced by pod-spec fragments the operator passes (extraEnv, extraVolumes, initContainers...), as a
JSON list: env valueFrom.secretKeyRef, envFrom secretRef and Secret volumes. (dict "env" list "volumes" list
"containers" list), each optional. Callers add them to the "reads" of nexus-lib.checksums.
*/}}
{{- define "nexus-lib.secretsReferenced" -}}
{{- $names := list }}
{{- $envs := get . "env" | default list }}
{{- $envFrom := list }}
{{- range (get . "containers" | default list) }}
{{- $envs = concat $envs (get . "env" | default list) }}
{{- $envFrom = concat $envFrom (get . "envFrom" | default list) }}
{{- end }}
{{- range $envs }}
{{- with (dig "valueFrom" "secretKeyRef" "name" "" .) }}{{- $names = append $names . }}{{- end }}
{{- end }}
{{- range $envFrom }}
{{- with (dig "secretRef" "name" "" .) }}{{- $names = append $names . }}{{- end }}
{{- end }}
{{- range (get . "volumes" | default list) }}
{{- with (dig "secret" "secretName" "" .) }}{{- $names = append $names . }}{{- end }}
{{- end }}
{{- $names | uniq | toJson }}
{{- end }}
