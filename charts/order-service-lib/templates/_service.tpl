{{/* The ClusterIP Service in front of the pods, plus a headless one for a StatefulSet's stable pod names. */}}
{{- define "order-service-lib.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "order-service-lib.fullname" . }}
  labels:
    {{- include "order-service-lib.labels" . | nindent 4 }}
spec:
  type: {{ .Values.service.type }}
  ports:
    - name: http
      port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
  selector:
    {{- include "order-service-lib.selectorLabels" . | nindent 4 }}
{{- if include "order-service-lib.stateful" . }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "order-service-lib.fullname" . }}-headless
  labels:
    {{- include "order-service-lib.labels" . | nindent 4 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  ports:
    - name: http
      port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
  selector:
    {{- include "order-service-lib.selectorLabels" . | nindent 4 }}
{{- end }}
{{- end }}

{{/* CPU-based autoscaling (target autoscaling.targetCPUUtilizationPercentage, 70 by default); replicaCount is the floor. */}}
{{- define "order-service-lib.hpa" -}}
{{- if .Values.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "order-service-lib.fullname" . }}
  labels:
    {{- include "order-service-lib.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ ternary "StatefulSet" "Deployment" (eq (include "order-service-lib.stateful" .) "true") }}
    name: {{ include "order-service-lib.fullname" . }}
  minReplicas: {{ .Values.replicaCount }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .Values.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end }}

{{/* Keeps podDisruptionBudget.minAvailable pods up during voluntary disruptions (node drains). */}}
{{- define "order-service-lib.pdb" -}}
{{- if .Values.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "order-service-lib.fullname" . }}
  labels:
    {{- include "order-service-lib.labels" . | nindent 4 }}
spec:
  minAvailable: {{ .Values.podDisruptionBudget.minAvailable }}
  selector:
    matchLabels:
      {{- include "order-service-lib.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end }}

{{/*
Who may talk to the pods: the peers in networkPolicy.allowFrom on the HTTP port, and the peers in
networkPolicy.metricsFrom (Prometheus) on the same port for /actuator/prometheus. Egress is left open
unless networkPolicy.restrictEgress is on; then only DNS and networkPolicy.egress are allowed.
*/}}
{{- define "order-service-lib.networkpolicy" -}}
{{- if .Values.networkPolicy.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "order-service-lib.fullname" . }}
  labels:
    {{- include "order-service-lib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "order-service-lib.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    {{- if .Values.networkPolicy.restrictEgress }}
    - Egress
    {{- end }}
  ingress:
    - from:
        {{- toYaml .Values.networkPolicy.allowFrom | nindent 8 }}
      ports:
        - port: http
          protocol: TCP
    {{- with .Values.networkPolicy.metricsFrom }}
    - from:
        {{- toYaml . | nindent 8 }}
      ports:
        - port: http
          protocol: TCP
    {{- end }}
  {{- if .Values.networkPolicy.restrictEgress }}
  egress:
    - ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    {{- with .Values.networkPolicy.egress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end }}
{{- end }}

{{/* A Prometheus Operator ServiceMonitor (a CRD: off unless metrics.serviceMonitor.enabled). */}}
{{- define "order-service-lib.servicemonitor" -}}
{{- if and .Values.metrics.enabled .Values.metrics.serviceMonitor.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "order-service-lib.fullname" . }}
  labels:
    {{- include "order-service-lib.labels" . | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- include "order-service-lib.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: http
      path: {{ .Values.metrics.path }}
      interval: {{ .Values.metrics.serviceMonitor.interval }}
{{- end }}
{{- end }}
