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
