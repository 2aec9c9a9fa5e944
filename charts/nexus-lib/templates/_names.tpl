{{/*
Names and labels, the one vocabulary of every nexus-platform chart. Each helper takes the consuming chart's
root context (`.`), or a dict `(dict "context" $ "component" "cart-mongodb")` when one release runs several
components: .Chart is then always the consuming chart, never this library.
*/}}

{{/* The part-of value of every object the platform deploys: one system, one value (the components use it too). */}}
{{- define "nexus-lib.partOf" -}}
nexus-platform
{{- end }}

{{/* The chart name, overridable with nameOverride. */}}
{{- define "nexus-lib.name" -}}
{{- $root := . }}
{{- if hasKey . "context" }}{{- $root = .context }}{{- end }}
{{- default $root.Chart.Name $root.Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release-qualified name; the release name alone when it already contains the chart name. */}}
{{- define "nexus-lib.fullname" -}}
{{- $root := . }}
{{- if hasKey . "context" }}{{- $root = .context }}{{- end }}
{{- if $root.Values.fullnameOverride }}
{{- $root.Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default $root.Chart.Name $root.Values.nameOverride }}
{{- if contains $name $root.Release.Name }}
{{- $root.Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" $root.Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart-version, as used in the helm.sh/chart label. */}}
{{- define "nexus-lib.chart" -}}
{{- $root := . }}
{{- if hasKey . "context" }}{{- $root = .context }}{{- end }}
{{- printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The application version: image.tag for a chart with one image, else the chart's appVersion. */}}
{{- define "nexus-lib.appVersion" -}}
{{- $tag := dig "image" "tag" "" .Values.AsMap | toString }}
{{- default .Chart.AppVersion $tag | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: name and instance only, because selectors are immutable; plus the component when the caller
names one (a release of several StatefulSets needs it, or each would claim every pod).
*/}}
{{- define "nexus-lib.selectorLabels" -}}
{{- $root := . }}
{{- $component := "" }}
{{- if hasKey . "context" }}{{- $root = .context }}{{- $component = get . "component" }}{{- end -}}
app.kubernetes.io/name: {{ include "nexus-lib.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- with $component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/*
Labels on every object: helm.sh/chart, the selector labels, version, component (the caller's, else the chart's
`component` value), managed-by, part-of, nexus.io/environment when the chart knows its environment, and the
chart's commonLabels. Keep the text stable: charts hash rendered templates that carry these labels.
*/}}
{{- define "nexus-lib.labels" -}}
{{- $root := . }}
{{- $component := "" }}
{{- if hasKey . "context" }}{{- $root = .context }}{{- $component = get . "component" }}{{- end -}}
helm.sh/chart: {{ include "nexus-lib.chart" $root }}
{{ include "nexus-lib.selectorLabels" (dict "context" $root "component" $component) }}
app.kubernetes.io/version: {{ include "nexus-lib.appVersion" $root | quote }}
{{- if not $component }}
{{- with dig "component" "" $root.Values.AsMap }}
app.kubernetes.io/component: {{ . | quote }}
{{- end }}
{{- end }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: {{ include "nexus-lib.partOf" $root }}
{{- with dig "environment" "" $root.Values.AsMap }}
nexus.io/environment: {{ . | quote }}
{{- end }}
{{- with dig "commonLabels" dict $root.Values.AsMap }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
An object's metadata: name (default the fullname), labels (plus extraLabels), annotations.
(dict "context" $ ["name" ...] ["component" ...] ["extraLabels" dict] ["annotations" dict])
*/}}
{{- define "nexus-lib.metadata" -}}
name: {{ get . "name" | default (include "nexus-lib.fullname" .context) }}
labels:
  {{- include "nexus-lib.labels" (dict "context" .context "component" (get . "component")) | nindent 2 }}
  {{- with get . "extraLabels" }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with get . "annotations" }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The ServiceAccount pods run as: the chart's own when serviceAccount.create, else the named or default one. */}}
{{- define "nexus-lib.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nexus-lib.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
[registry/]repository:tag. (dict "image" .Values.image "context" $): the tag defaults to the chart's appVersion
when a context is given.
*/}}
{{- define "nexus-lib.image" -}}
{{- $tag := default "" .image.tag | toString }}
{{- if and (not $tag) (hasKey . "context") }}{{- $tag = .context.Chart.AppVersion }}{{- end }}
{{- with get .image "registry" }}
{{- printf "%s/%s:%s" . $.image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}
