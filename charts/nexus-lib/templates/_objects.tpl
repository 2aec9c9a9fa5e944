{{/*
The objects every chart makes the same way. Each takes (dict "context" $ ...) with what differs; "component",
when given, goes into the labels and the selector (a release of several components), otherwise the chart's
own name + instance select its pods.
*/}}

{{/* The ServiceAccount (serviceAccount.create); its token is mounted only if serviceAccount.automountServiceAccountToken. */}}
{{- define "nexus-lib.serviceAccount" -}}
{{- $root := .context }}
{{- if $root.Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "nexus-lib.metadata" (dict "context" $root "name" (include "nexus-lib.serviceAccountName" $root) "annotations" $root.Values.serviceAccount.annotations) | nindent 2 }}
automountServiceAccountToken: {{ dig "serviceAccount" "automountServiceAccountToken" false $root.Values.AsMap }}
{{- end }}
{{- end }}

{{/*
A PodDisruptionBudget keeping "minAvailable" pods up, or allowing "maxUnavailable" down, during voluntary
disruptions (node drains). (dict "context" $ ["name" ...] ["component" ...] "minAvailable"|"maxUnavailable" n)
*/}}
{{- define "nexus-lib.podDisruptionBudget" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "nexus-lib.metadata" . | nindent 2 }}
spec:
  {{- if hasKey . "minAvailable" }}
  minAvailable: {{ .minAvailable }}
  {{- else }}
  maxUnavailable: {{ .maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "nexus-lib.selectorLabels" (dict "context" .context "component" (get . "component")) | nindent 6 }}
{{- end }}

{{/*
A HorizontalPodAutoscaler on CPU (and memory when "memory" is given), plus "extraMetrics" and "behavior".
(dict "context" $ "kind" "Deployment" "minReplicas" n "maxReplicas" n "cpu" percent ["memory" percent]
 ["extraMetrics" list] ["behavior" dict])
*/}}
{{- define "nexus-lib.horizontalPodAutoscaler" -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  {{- include "nexus-lib.metadata" . | nindent 2 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ .kind }}
    name: {{ get . "name" | default (include "nexus-lib.fullname" .context) }}
  minReplicas: {{ .minReplicas }}
  maxReplicas: {{ .maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .cpu }}
    {{- with get . "memory" }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
    {{- with get . "extraMetrics" }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with get . "behavior" }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
A NetworkPolicy selecting the chart's (or the component's) pods, with the caller's rules. "ingress" and
"egress" are rendered whenever given, even empty (an empty list with its policy type denies everything).
(dict "context" $ ["name" ...] ["component" ...] ["annotations" dict] "policyTypes" list ["ingress" list] ["egress" list])
*/}}
{{- define "nexus-lib.networkPolicy" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "nexus-lib.metadata" . | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "nexus-lib.selectorLabels" (dict "context" .context "component" (get . "component")) | nindent 6 }}
  policyTypes:
    {{- toYaml .policyTypes | nindent 4 }}
  {{- if hasKey . "ingress" }}
  ingress:
    {{- toYaml .ingress | nindent 4 }}
  {{- end }}
  {{- if hasKey . "egress" }}
  egress:
    {{- toYaml .egress | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
A Prometheus Operator ServiceMonitor (a CRD) for the chart's (or the component's) Service.
(dict "context" $ ["name" ...] ["component" ...] ["extraLabels" dict] ["namespaced" true] "endpoints" list)
*/}}
{{- define "nexus-lib.serviceMonitor" -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  {{- include "nexus-lib.metadata" . | nindent 2 }}
spec:
  {{- if get . "namespaced" }}
  namespaceSelector:
    matchNames:
      - {{ .context.Release.Namespace }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "nexus-lib.selectorLabels" (dict "context" .context "component" (get . "component")) | nindent 6 }}
  endpoints:
    {{- toYaml .endpoints | nindent 4 }}
{{- end }}
