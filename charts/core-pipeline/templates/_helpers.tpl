{{/*
Chart name, truncated to the 63 characters a label value allows.
*/}}
{{- define "core-pipeline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects. A release name that already contains the chart name is used as is.
*/}}
{{- define "core-pipeline.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "core-pipeline.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: name and instance only, because Deployment selectors are immutable.
*/}}
{{- define "core-pipeline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "core-pipeline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "core-pipeline.labels" -}}
helm.sh/chart: {{ include "core-pipeline.chart" . }}
{{ include "core-pipeline.selectorLabels" . }}
app.kubernetes.io/version: {{ include "core-pipeline.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: {{ .Values.component }}
app.kubernetes.io/part-of: {{ .Values.partOf }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The image tag: the explicit one, else the chart's appVersion (kept equal to the released image).
*/}}
{{- define "core-pipeline.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "core-pipeline.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "core-pipeline.imageTag" .) }}
{{- end }}

{{- define "core-pipeline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "core-pipeline.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret the pods read credentials from: an existing one, or the chart's own.
*/}}
{{- define "core-pipeline.secretName" -}}
{{- default (printf "%s-credentials" (include "core-pipeline.fullname" .)) .Values.secret.existingSecret }}
{{- end }}

{{- define "core-pipeline.configMapName" -}}
{{- printf "%s-config" (include "core-pipeline.fullname" .) }}
{{- end }}

{{- define "core-pipeline.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "core-pipeline.fullname" .)) .Values.ingress.tlsSecretName }}
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
{{- $fullname := include "core-pipeline.fullname" . }}
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
Every impossible combination of values, reported at once.
*/}}
{{- define "core-pipeline.validateValues" -}}
{{- $errors := list }}
{{- range $key, $value := .Values.env }}
{{- if regexMatch "(?i)(password|secret|token|key)" $key }}
{{- $errors = append $errors (printf "env.%s looks like a credential and would land in a ConfigMap: put it in secret.data (or the existing Secret) and list it in secret.keys" $key) }}
{{- end }}
{{- end }}
{{- if and .Values.migration.enabled (not .Values.secret.existingSecret) }}
{{- $errors = append $errors "migration.enabled=true needs secret.existingSecret: the pre-install hook runs before the chart's own Secret exists" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- $errors = append $errors (printf "autoscaling.minReplicas (%d) may not exceed autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.hostname) }}
{{- $errors = append $errors "ingress.enabled=true needs ingress.hostname" }}
{{- end }}
{{- if not .Values.secret.existingSecret }}
{{- range .Values.secret.keys }}
{{- if and (not .optional) (not (hasKey $.Values.secret.data .name)) }}
{{- $errors = append $errors (printf "secret.data has no %s, which secret.keys marks as required (or set secret.existingSecret)" .name) }}
{{- end }}
{{- end }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\nVALUES VALIDATION:\n  %s" (join "\n  " $errors)) }}
{{- end }}
{{- end }}

{{/*
The pod-level scheduling rules: anti-affinity across nodes and spread across zones.
*/}}
{{- define "core-pipeline.affinity" -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "core-pipeline.selectorLabels" . | fromYaml)) }}
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
