{{/*
core-pipeline: only what is its own. Names, labels, security contexts, checksums, validation and the
ServiceAccount, PDB, HPA, NetworkPolicy and ServiceMonitor objects come from the nexus-lib library chart.
*/}}

{{/*
The Secret the pods read credentials from: an existing one, or the chart's own.
*/}}
{{- define "core-pipeline.secretName" -}}
{{- default (printf "%s-credentials" (include "nexus-lib.fullname" .)) .Values.secret.existingSecret }}
{{- end }}

{{- define "core-pipeline.configMapName" -}}
{{- printf "%s-config" (include "nexus-lib.fullname" .) }}
{{- end }}

{{- define "core-pipeline.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "nexus-lib.fullname" .)) .Values.ingress.tlsSecretName }}
{{- end }}

{{/*
Every host the Ingress serves.
*/}}
{{- define "core-pipeline.ingressHosts" -}}
{{- toJson (prepend .Values.ingress.extraHosts .Values.ingress.hostname | uniq) }}
{{- end }}

{{/*
The ConfigMap's data: `env` plus feature flags as FEATURE_<NAME>. Shared by the ConfigMap and the hook Jobs
(hooks run before the ConfigMap exists, so they get the same variables inline).
*/}}
{{- define "core-pipeline.configData" -}}
{{- $data := dict }}
{{- range $key, $value := .Values.env }}
{{- $_ := set $data $key (toString $value) }}
{{- end }}
{{- range $flag, $on := .Values.featureFlags }}
{{- $_ := set $data (printf "FEATURE_%s" ($flag | snakecase | upper)) (ternary "true" "false" $on) }}
{{- end }}
{{- toJson $data }}
{{- end }}

{{/*
Credential environment variables, each read from the Secret by key.
*/}}
{{- define "core-pipeline.secretEnv" -}}
{{- $secretName := include "core-pipeline.secretName" . }}
{{- range .Values.secret.keys }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ .name }}
      optional: {{ .optional | default false }}
{{- end }}
{{- end }}

{{/*
Ingress annotations for the selected controller: TLS via cert-manager, rate limiting, CORS, body size and
timeouts. Traefik expresses rate limits, CORS and body size as Middleware objects (templates/ingress.yaml),
referenced here.
*/}}
{{- define "core-pipeline.ingressAnnotations" -}}
{{- $ing := .Values.ingress }}
{{- $annotations := dict }}
{{- if and $ing.tls $ing.certManager.enabled }}
{{- $_ := set $annotations "cert-manager.io/cluster-issuer" $ing.certManager.clusterIssuer }}
{{- end }}
{{- if eq $ing.className "nginx" }}
{{- $_ := set $annotations "nginx.ingress.kubernetes.io/proxy-body-size" (printf "%dm" (int $ing.maxBodySizeMiB)) }}
{{- $_ := set $annotations "nginx.ingress.kubernetes.io/proxy-connect-timeout" (toString $ing.timeouts.connect) }}
{{- $_ := set $annotations "nginx.ingress.kubernetes.io/proxy-read-timeout" (toString $ing.timeouts.read) }}
{{- $_ := set $annotations "nginx.ingress.kubernetes.io/proxy-send-timeout" (toString $ing.timeouts.send) }}
{{- if $ing.tls }}
{{- $_ := set $annotations "nginx.ingress.kubernetes.io/ssl-redirect" "true" }}
{{- end }}
{{- if $ing.rateLimit.enabled }}
{{- $_ := set $annotations "nginx.ingress.kubernetes.io/limit-rps" (toString $ing.rateLimit.requestsPerSecond) }}
{{- $_ := set $annotations "nginx.ingress.kubernetes.io/limit-burst-multiplier" (toString $ing.rateLimit.burstMultiplier) }}
{{- end }}
{{- if $ing.cors.enabled }}
{{- $_ := set $annotations "nginx.ingress.kubernetes.io/enable-cors" "true" }}
{{- $_ := set $annotations "nginx.ingress.kubernetes.io/cors-allow-origin" (join ", " $ing.cors.allowOrigins) }}
{{- $_ := set $annotations "nginx.ingress.kubernetes.io/cors-allow-methods" (join ", " $ing.cors.allowMethods) }}
{{- $_ := set $annotations "nginx.ingress.kubernetes.io/cors-allow-headers" (join ", " $ing.cors.allowHeaders) }}
{{- end }}
{{- else }}
{{- $middlewares := list }}
{{- range (include "core-pipeline.traefikMiddlewares" . | fromJsonArray) }}
{{- $middlewares = append $middlewares (printf "%s-%s@kubernetescrd" $.Release.Namespace .) }}
{{- end }}
{{- if $middlewares }}
{{- $_ := set $annotations "traefik.ingress.kubernetes.io/router.middlewares" (join "," $middlewares) }}
{{- end }}
{{- if $ing.tls }}
{{- $_ := set $annotations "traefik.ingress.kubernetes.io/router.tls" "true" }}
{{- end }}
{{- end }}
{{- toJson (mergeOverwrite $annotations $ing.annotations) }}
{{- end }}

{{/*
Names of the Traefik Middleware objects the Ingress uses (body size always; rate limit and CORS when on).
*/}}
{{- define "core-pipeline.traefikMiddlewares" -}}
{{- $fullname := include "nexus-lib.fullname" . }}
{{- $names := list (printf "%s-body-size" $fullname) }}
{{- if .Values.ingress.rateLimit.enabled }}
{{- $names = append $names (printf "%s-rate-limit" $fullname) }}
{{- end }}
{{- if .Values.ingress.cors.enabled }}
{{- $names = append $names (printf "%s-cors" $fullname) }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{/*
core-pipeline's own impossible combinations, one message per line (nexus-lib.validateValues collects them with the
shared checks and fails with all of them at once).
*/}}
{{- define "core-pipeline.validateValues" -}}
{{- range $key, $value := .Values.env }}
{{- if regexMatch "(?i)(password|secret|token|key)" $key }}
env.{{ $key }} looks like a credential and would land in a ConfigMap: put it in secret.data (or the existing Secret) and list it in secret.keys
{{ end }}
{{- end }}
{{- if and .Values.migration.enabled (not .Values.secret.existingSecret) }}
migration.enabled=true needs secret.existingSecret: the pre-install hook runs before the chart's own Secret exists
{{ end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.hostname) }}
ingress.enabled=true needs ingress.hostname
{{ end }}
{{- if not .Values.secret.existingSecret }}
{{- range .Values.secret.keys }}
{{- if and (not .optional) (not (hasKey $.Values.secret.data .name)) }}
secret.data has no {{ .name }}, which secret.keys marks as required (or set secret.existingSecret)
{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The pod-level scheduling rules: anti-affinity across nodes and spread across zones.
*/}}
{{- define "core-pipeline.affinity" -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "nexus-lib.selectorLabels" . | fromYaml)) }}
{{- $affinity := deepCopy .Values.affinity }}
{{- if eq .Values.podAntiAffinity "hard" }}
{{- $_ := set $affinity "podAntiAffinity" (dict "requiredDuringSchedulingIgnoredDuringExecution" (list $term)) }}
{{- else if eq .Values.podAntiAffinity "soft" }}
{{- $_ := set $affinity "podAntiAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" (list (dict "weight" 100 "podAffinityTerm" $term))) }}
{{- end }}
{{- if $affinity }}
{{- toYaml $affinity }}
{{- end }}
{{- end }}

{{/* Who may reach the pods: the ingress controller, this release's own pods (peers, the smoke test), Prometheus. */}}
{{- define "core-pipeline.networkPolicyIngress" -}}
{{- $np := .Values.networkPolicy }}
# The ingress controller, to the application port.
- from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ $np.ingressControllerNamespace }}
  ports:
    - port: http
      protocol: TCP
# Pods of this release: peer replicas and the smoke-test hook.
- from:
    - podSelector:
        matchLabels:
          app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
    - port: http
      protocol: TCP
{{- with $np.monitoringNamespace }}
# Prometheus, scraping /metrics.
- from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ . }}
  ports:
    - port: http
      protocol: TCP
{{- end }}
{{- end }}

{{/* Where the pods may connect: DNS, then Kafka, PostgreSQL, Redis and the OTLP collector (any destination when no namespace is given). */}}
{{- define "core-pipeline.networkPolicyEgress" -}}
{{- $np := .Values.networkPolicy }}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ $np.egress.dns.namespace }}
  ports:
    - port: {{ $np.egress.dns.port }}
      protocol: UDP
    - port: {{ $np.egress.dns.port }}
      protocol: TCP
{{- range $service := list "kafka" "postgres" "redis" "otlp" }}
{{- $rule := index $np.egress $service }}
- {{- if $rule.namespace }}
  to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ $rule.namespace }}
  {{- end }}
  ports:
    {{- range $rule.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- end }}
