{{/*
A Grafana dashboard as a ConfigMap the Grafana sidecar loads (its label, `grafana_dashboard: "1"` by default, comes
in extraLabels). Every panel is a time series of one PromQL expression; `$namespace` in an expression is the
dashboard's namespace variable, filled from the namespaces of `variable` (a metric every target of the system has)
and set to the release's namespace.
(dict "context" $ "name" <ConfigMap name> "key" <file name, no .json> "title" ... "uid" ... "tags" (list ...)
      "variable" <metric> "extraLabels" (dict ...) "panels" (list (dict "title" ... "expr" ... ["legend" ...])))
*/}}
{{- define "nexus-lib.dashboard" -}}
{{- $root := .context }}
{{- $list := list }}
{{- range $i, $p := .panels }}
{{- $target := dict "expr" $p.expr "legendFormat" ($p.legend | default "{{pod}}") "refId" "A" }}
{{- $grid := dict "x" (mul (mod $i 2) 12) "y" (mul (div $i 2) 8) "w" 12 "h" 8 }}
{{- $list = append $list (dict "id" (add $i 1) "type" "timeseries" "title" $p.title "datasource" (dict "type" "prometheus" "uid" "${datasource}") "targets" (list $target) "gridPos" $grid) }}
{{- end }}
{{- $datasource := dict "name" "datasource" "type" "datasource" "query" "prometheus" }}
{{- $namespace := dict "name" "namespace" "type" "query" "datasource" (dict "type" "prometheus" "uid" "${datasource}") "query" (printf "label_values(%s, namespace)" .variable) "refresh" 1 "current" (dict "text" $root.Release.Namespace "value" $root.Release.Namespace) }}
{{- $dashboard := dict "title" .title "uid" .uid "tags" .tags "timezone" "utc" "schemaVersion" 39 "refresh" "30s" "time" (dict "from" "now-6h" "to" "now") "templating" (dict "list" (list $datasource $namespace)) "panels" $list }}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "nexus-lib.metadata" (dict "context" $root "name" .name "extraLabels" .extraLabels) | nindent 2 }}
data:
  {{ printf "%s.json" .key }}: {{ $dashboard | toJson | quote }}
{{- end }}

{{/*
The panels every service's dashboard starts with: its pods (kube-state-metrics), their CPU and memory (the
kubelet's cAdvisor), restarts and its scrape target. (dict "deployment" <name, or "" for a StatefulSet>
"statefulset" <name, or ""> "pods" <pod-name regex> "container" <container name> "service" <Service name>)
*/}}
{{- define "nexus-lib.dashboard.workloadPanels" -}}
{{- $sel := printf "namespace=\"$namespace\", pod=~\"%s\", container=\"%s\"" .pods .container }}
{{- if .statefulset }}
- {title: "Pods ready / desired", expr: {{ printf "kube_statefulset_status_replicas_ready{namespace=\"$namespace\", statefulset=\"%s\"} / kube_statefulset_replicas{namespace=\"$namespace\", statefulset=\"%s\"}" .statefulset .statefulset | quote }}, legend: "ready / desired"}
{{- else }}
- {title: "Pods available / desired", expr: {{ printf "kube_deployment_status_replicas_available{namespace=\"$namespace\", deployment=\"%s\"} / kube_deployment_spec_replicas{namespace=\"$namespace\", deployment=\"%s\"}" .deployment .deployment | quote }}, legend: "available / desired"}
{{- end }}
- {title: "Scrape target up", expr: {{ printf "up{namespace=\"$namespace\", service=\"%s\"}" .service | quote }}}
- {title: "CPU (cores)", expr: {{ printf "sum by (pod) (rate(container_cpu_usage_seconds_total{%s}[5m]))" $sel | quote }}}
- {title: "Memory (working set)", expr: {{ printf "sum by (pod) (container_memory_working_set_bytes{%s})" $sel | quote }}}
- {title: "Container restarts (1 h)", expr: {{ printf "sum by (pod) (increase(kube_pod_container_status_restarts_total{%s}[1h]))" $sel | quote }}}
{{- end }}

{{/*
A service's dashboard, the workload panels first (nexus-lib.dashboard.workloadPanels), then the chart's own:
(dict "context" $ "title" ... "kind" <Deployment|StatefulSet> "pods" <pod-name regex> "container" ...
      "labels" <the sidecar's> "panels" (list ...)). Named <fullname>-dashboard; its Grafana uid (at most 40
characters) ends in a hash of namespace and name, so two releases' dashboards (two tenants) never collide.
*/}}
{{- define "nexus-lib.serviceDashboard" -}}
{{- $root := .context }}
{{- $name := include "nexus-lib.fullname" $root }}
{{- $stateful := eq .kind "StatefulSet" }}
{{- $workload := include "nexus-lib.dashboard.workloadPanels" (dict "deployment" (ternary "" $name $stateful) "statefulset" (ternary $name "" $stateful) "pods" .pods "container" .container "service" $name) | fromYamlArray }}
{{- $uid := printf "%s-%s" (printf "nexus-%s" $name | trunc 31 | trimSuffix "-") (printf "%s/%s" $root.Release.Namespace $name | sha256sum | trunc 8) }}
{{- include "nexus-lib.dashboard" (dict "context" $root "name" (printf "%s-dashboard" $name) "key" $name "title" .title "uid" $uid "tags" (list "nexus-platform" "services") "variable" (printf "up{service=%q}" $name) "extraLabels" .labels "panels" (concat $workload (.panels | default list))) }}
{{- end }}

{{/*
An order service's dashboard (metrics.dashboards.enabled, with its ServiceMonitor): the workload panels and
Spring Boot Actuator's Micrometer series on /actuator/prometheus (http.server.requests, jvm.*).
*/}}
{{- define "nexus-lib.spring.dashboard" -}}
{{- if and .Values.metrics.enabled .Values.metrics.serviceMonitor.enabled (dig "dashboards" "enabled" false .Values.metrics) }}
{{- $name := include "nexus-lib.fullname" . }}
{{- $stateful := eq (include "nexus-lib.spring.stateful" .) "true" }}
{{- $sel := printf "namespace=\"$namespace\", service=\"%s\"" $name }}
{{- $panels := list
  (dict "title" "Requests / s by status" "expr" (printf "sum by (status) (rate(http_server_requests_seconds_count{%s}[5m]))" $sel) "legend" "{{status}}")
  (dict "title" "Server errors (% of requests)" "expr" (printf "sum(rate(http_server_requests_seconds_count{%s, outcome=\"SERVER_ERROR\"}[5m])) / sum(rate(http_server_requests_seconds_count{%s}[5m])) * 100" $sel $sel) "legend" "5xx %")
  (dict "title" "Mean request time (s)" "expr" (printf "sum by (pod) (rate(http_server_requests_seconds_sum{%s}[5m])) / sum by (pod) (rate(http_server_requests_seconds_count{%s}[5m]))" $sel $sel))
  (dict "title" "JVM heap used" "expr" (printf "sum by (pod) (jvm_memory_used_bytes{%s, area=\"heap\"})" $sel))
  (dict "title" "GC pause time / s" "expr" (printf "sum by (pod) (rate(jvm_gc_pause_seconds_sum{%s}[5m]))" $sel))
  (dict "title" "Live threads" "expr" (printf "sum by (pod) (jvm_threads_live_threads{%s})" $sel))
}}
{{- $pods := printf (ternary "%s-[0-9]+" "%s-[a-z0-9]{5,10}-[a-z0-9]{5}" $stateful) $name }}
{{- include "nexus-lib.serviceDashboard" (dict "context" . "title" (printf "%s (order platform)" $name) "kind" (ternary "StatefulSet" "Deployment" $stateful) "pods" $pods "container" .Chart.Name "labels" .Values.metrics.dashboards.labels "panels" $panels) }}
{{- end }}
{{- end }}
