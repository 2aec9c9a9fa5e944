{{/*
Impossible combinations, checked before anything renders, reported all at once (Bitnami's validateValues):
the platform-wide checks below (each applies only to a chart that has the values it reads), the checks named
in "checks" (library templates, one message per line), and the chart's own "<chart>.validateValues" (one
message per line; every chart defines it, empty when it has none). Call with the root context, or with
(dict "context" $ "checks" (list "nexus-lib.spring.checks")).
*/}}
{{- define "nexus-lib.validateValues" -}}
{{- $root := . }}
{{- $checks := list "nexus-lib.sharedChecks" }}
{{- if hasKey . "context" }}{{- $root = .context }}{{- $checks = concat $checks (get . "checks" | default list) }}{{- end }}
{{- $checks = append $checks (printf "%s.validateValues" $root.Chart.Name) }}
{{- $messages := list }}
{{- range $checks }}
{{- range (include . $root | splitList "\n") }}
{{- if trim . }}
{{- $messages = append $messages (trim .) }}
{{- end }}
{{- end }}
{{- end }}
{{- if $messages }}
{{- fail (printf "\n%s: invalid values:\n  - %s" $root.Chart.Name (join "\n  - " $messages)) }}
{{- end }}
{{- end }}

{{/* The checks every chart shares, one message per line. */}}
{{- define "nexus-lib.sharedChecks" -}}
{{- $v := .Values.AsMap }}
{{- $autoscaling := dig "autoscaling" dict $v }}
{{- if dig "enabled" false $autoscaling }}
{{- $floorKey := ternary "autoscaling.minReplicas" "replicaCount" (hasKey $autoscaling "minReplicas") }}
{{- $floor := ternary (get $autoscaling "minReplicas") (get $v "replicaCount") (hasKey $autoscaling "minReplicas") }}
{{- if lt (int $autoscaling.maxReplicas) (int $floor) }}
autoscaling.maxReplicas ({{ $autoscaling.maxReplicas }}) must be at least {{ $floorKey }} ({{ $floor }}), the autoscaler's floor
{{ end }}
{{- end }}
{{- $pdb := dig "podDisruptionBudget" dict $v }}
{{- if and (dig "enabled" false $pdb) (hasKey $pdb "minAvailable") (not (kindIs "string" $pdb.minAvailable)) }}
{{- if ge (int $pdb.minAvailable) (int (get $v "replicaCount")) }}
podDisruptionBudget.minAvailable ({{ $pdb.minAvailable }}) must be below replicaCount ({{ get $v "replicaCount" }}), or no node could ever be drained
{{ end }}
{{- end }}
{{- $net := dig "networkPolicy" dict $v }}
{{- if and (dig "enabled" false $net) (hasKey $net "allowFrom") (empty $net.allowFrom) }}
networkPolicy.allowFrom is empty: with networkPolicy.enabled it must list who may reach the service
{{ end }}
{{- $ingress := dig "ingress" dict $v }}
{{- if and (dig "enabled" false $ingress) (kindIs "slice" (get $ingress "tls")) (empty (get $ingress "tls")) }}
ingress.tls is empty: every Ingress of the platform serves TLS (add at least one tls entry; cert-manager issues the certificate)
{{ end }}
{{- end }}
