{{/* True when the chart has persistence and it is on: the workload is then a StatefulSet. */}}
{{- define "order-service-lib.stateful" -}}
{{- if (dig "persistence" "enabled" false .Values.AsMap) }}true{{ end }}
{{- end }}

{{/* Pod anti-affinity from podAntiAffinity: soft (preferred), hard (required) or none. */}}
{{- define "order-service-lib.affinity" -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "order-service-lib.selectorLabels" . | fromYaml)) }}
{{- if eq .Values.podAntiAffinity "hard" }}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    {{- list $term | toYaml | nindent 4 }}
{{- else if eq .Values.podAntiAffinity "soft" }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        {{- toYaml $term | nindent 8 }}
{{- end }}
{{- end }}

{{/*
The service's workload: a Deployment, or a StatefulSet with one PersistentVolumeClaim per replica when
the chart has persistence switched on (each replica needs its own volume: RocksDB state is per instance).
replicas is replicaCount without the autoscaler; with it the field is left out, because the autoscaler owns the
count (replicaCount becomes its minReplicas) and a declared value would reset the scale on every apply that
touches the workload until the autoscaler caught up.
*/}}
{{- define "order-service-lib.workload" -}}
{{- $fullname := include "order-service-lib.fullname" . }}
{{- $stateful := include "order-service-lib.stateful" . }}
{{- $persistence := dig "persistence" dict .Values.AsMap }}
apiVersion: apps/v1
kind: {{ ternary "StatefulSet" "Deployment" (eq $stateful "true") }}
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "order-service-lib.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- if $stateful }}
  serviceName: {{ $fullname }}-headless
  podManagementPolicy: Parallel
  persistentVolumeClaimRetentionPolicy:
    whenDeleted: {{ $persistence.whenDeleted }}
    whenScaled: Retain
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  {{- end }}
  selector:
    matchLabels:
      {{- include "order-service-lib.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        checksum/config: {{ include "order-service-lib.configData" . | sha256sum }}
        {{- if not .Values.existingSecret }}
        checksum/secret: {{ include "order-service-lib.secretEntries" . | sha256sum }}
        {{- end }}
        {{- if .Values.metrics.enabled }}
        prometheus.io/scrape: "true"
        prometheus.io/path: {{ .Values.metrics.path | quote }}
        prometheus.io/port: {{ .Values.containerPort | quote }}
        {{- end }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "order-service-lib.labels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "order-service-lib.serviceAccountName" . }}
      automountServiceAccountToken: false
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml .Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      {{- with (include "order-service-lib.affinity" .) }}
      affinity:
        {{- . | trim | nindent 8 }}
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .Chart.Name }}
          image: {{ include "order-service-lib.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .Values.containerPort }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ $fullname }}
          env:
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            {{- range (include "order-service-lib.secretEntries" . | fromYamlArray) }}
            - name: {{ .env }}
              valueFrom:
                secretKeyRef:
                  name: {{ include "order-service-lib.secretName" $ }}
                  key: {{ .key }}
            {{- end }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet:
              path: /actuator/health/liveness
              port: http
            periodSeconds: 5
            failureThreshold: {{ .Values.probes.startupFailureThreshold }}
          livenessProbe:
            httpGet:
              path: /actuator/health/liveness
              port: http
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /actuator/health/readiness
              port: http
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 3
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if $persistence }}
            - name: state
              mountPath: {{ $persistence.mountPath }}
            {{- end }}
      volumes:
        # The root filesystem is read-only: the JVM and Tomcat write here.
        - name: tmp
          emptyDir:
            sizeLimit: {{ .Values.tmpDir.sizeLimit }}
        {{- if and $persistence (not $stateful) }}
        - name: state
          emptyDir:
            sizeLimit: {{ $persistence.size }}
        {{- end }}
  {{- if $stateful }}
  volumeClaimTemplates:
    - apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: state
        labels:
          {{- include "order-service-lib.selectorLabels" . | nindent 10 }}
      spec:
        accessModes:
          {{- toYaml $persistence.accessModes | nindent 10 }}
        {{- with $persistence.storageClass }}
        storageClassName: {{ . | quote }}
        {{- end }}
        resources:
          requests:
            storage: {{ $persistence.size }}
  {{- end }}
{{- end }}
