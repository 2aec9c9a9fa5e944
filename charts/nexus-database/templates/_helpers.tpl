{{/*
Chart name, truncated to the 63 characters a label value allows.
*/}}
{{- define "nexus-database.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the objects the whole release shares (scripts ConfigMap, default-deny policy).
The databases' own objects carry the fixed names the specification documents (cart-mongodb-headless,
product-postgres-service, redis-service, kafka-service): applications are configured with them.
*/}}
{{- define "nexus-database.fullname" -}}
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

{{- define "nexus-database.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels. Call with the root context.
*/}}
{{- define "nexus-database.labels" -}}
helm.sh/chart: {{ include "nexus-database.chart" . }}
{{ include "nexus-database.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nexus-platform
nexus.io/environment: {{ .Values.environment | quote }}
{{- end }}

{{- define "nexus-database.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nexus-database.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of one database's objects: (dict "root" $ "component" "cart-mongodb").
*/}}
{{- define "nexus-database.componentLabels" -}}
{{ include "nexus-database.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Selector of one database's pods. One release runs many StatefulSets, so name + instance alone would
make every StatefulSet claim every pod: the component label is the one addition, and it never changes.
*/}}
{{- define "nexus-database.componentSelector" -}}
{{ include "nexus-database.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Every enabled stateful workload with its effective settings (per-database values, else the kind's).
Templates iterate this list for what all databases share: PDBs, NetworkPolicies, backups, monitoring.
*/}}
{{- define "nexus-database.workloads" -}}
items:
{{- if .Values.mongodb.enabled }}
{{- range $key, $db := .Values.mongodb.databases }}
{{- if $db.enabled }}
  - component: {{ printf "%s-mongodb" $key }}
    kind: mongodb
    key: {{ $key }}
    port: 27017
    replicas: {{ default $.Values.mongodb.replicas $db.replicas }}
    storageSize: {{ default $.Values.mongodb.storage.size (($db.storage | default dict).size) }}
    resources: {{ default $.Values.mongodb.resources $db.resources | toJson }}
    allowFrom: {{ $db.allowFrom | default list | toJson }}
    secret: {{ $db.existingSecret }}
    backup: true
    metricsPort: 9216
    uid: 999
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.postgresql.enabled }}
{{- range $key, $db := .Values.postgresql.databases }}
{{- if $db.enabled }}
  - component: {{ printf "%s-postgres" $key }}
    kind: postgres
    key: {{ $key }}
    port: 5432
    replicas: {{ default $.Values.postgresql.replicas $db.replicas }}
    storageSize: {{ default $.Values.postgresql.storage.size (($db.storage | default dict).size) }}
    resources: {{ default $.Values.postgresql.resources $db.resources | toJson }}
    allowFrom: {{ $db.allowFrom | default list | toJson }}
    secret: {{ $db.existingSecret }}
    backup: true
    metricsPort: 9187
    uid: 999
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.redis }}
{{- if .enabled }}
  - component: redis
    kind: redis
    key: redis
    port: 6379
    replicas: {{ .replicas }}
    storageSize: {{ .storage.size }}
    resources: {{ .resources | toJson }}
    allowFrom: {{ .allowFrom | default list | toJson }}
    secret: {{ .existingSecret }}
    backup: true
    metricsPort: 9121
    uid: 999
{{- end }}
{{- end }}
{{- with .Values.kafka }}
{{- if .enabled }}
  - component: kafka
    kind: kafka
    key: kafka
    port: 9092
    replicas: {{ .replicas }}
    storageSize: {{ .storage.size }}
    resources: {{ .resources | toJson }}
    allowFrom: {{ .allowFrom | default list | toJson }}
    secret: {{ .sasl.existingSecret }}
    backup: false
    metricsPort: 9308
    uid: 1000
  - component: zookeeper
    kind: zookeeper
    key: zookeeper
    port: 2181
    replicas: {{ .zookeeper.replicas }}
    storageSize: {{ .zookeeper.storage.size }}
    resources: {{ .zookeeper.resources | toJson }}
    # Only the brokers talk to ZooKeeper.
    allowFrom: []
    internalOnly: true
    secret: ""
    backup: false
    metricsPort: 0
    uid: 1000
{{- end }}
{{- end }}
{{- end }}

{{/*
In-cluster DNS suffix of this release's namespace.
*/}}
{{- define "nexus-database.domain" -}}
{{- printf "%s.svc.%s" .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{- define "nexus-database.image" -}}
{{- printf "%s:%s" .repository .tag }}
{{- end }}

{{/*
Pod-level security context: the image's own non-root user; fsGroup makes the volumes writable to it.
*/}}
{{- define "nexus-database.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Container-level security context: every image here runs with a read-only root filesystem, with emptyDir
volumes for the paths it writes (listed per workload).
*/}}
{{- define "nexus-database.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}

{{/*
Scheduling shared by every pod of one database: (dict "root" $ "component" "cart-mongodb").
*/}}
{{- define "nexus-database.scheduling" -}}
{{- $root := .root }}
{{- with $root.Values.global.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.global.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- $mode := $root.Values.highAvailability.podAntiAffinity }}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "nexus-database.componentSelector" . | fromYaml)) }}
{{- if eq $mode "hard" }}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - {{- toYaml $term | nindent 8 }}
{{- else if eq $mode "soft" }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          {{- toYaml $term | nindent 10 }}
{{- end }}
{{- end }}

{{/*
StatefulSet fields every database shares: (dict "root" $ "component" ... "workload" <item>).
*/}}
{{- define "nexus-database.statefulSetCommon" -}}
serviceName: {{ .component }}-headless
replicas: {{ .workload.replicas }}
selector:
  matchLabels:
    {{- include "nexus-database.componentSelector" . | nindent 4 }}
updateStrategy:
  type: RollingUpdate
persistentVolumeClaimRetentionPolicy:
  whenDeleted: {{ ternary "Retain" "Delete" .root.Values.persistence.retainOnDelete }}
  # Scaling down and up again finds the same data, whatever retainOnDelete says.
  whenScaled: Retain
{{- end }}

{{/*
One data volume claim template named `data`: claims are `data-<statefulset>-<ordinal>`. The template
is what Kubernetes refuses to change in place; its shape stays fixed across releases.
*/}}
{{- define "nexus-database.dataClaim" -}}
- metadata:
    name: data
    labels:
      {{- include "nexus-database.componentSelector" . | nindent 6 }}
  spec:
    accessModes: [ReadWriteOnce]
    {{- with .root.Values.global.storageClass }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests:
        storage: {{ .workload.storageSize }}
{{- end }}

{{/*
The exporter sidecar of one workload (metrics.enabled): (dict "root" $ "workload" <item>).
*/}}
{{- define "nexus-database.exporter" -}}
{{- $root := .root }}
{{- $w := .workload }}
{{- $images := $root.Values.images }}
- name: metrics
  {{- $image := get (dict "mongodb" $images.mongodbExporter "postgres" $images.postgresExporter "redis" $images.redisExporter "kafka" $images.kafkaExporter) $w.kind }}
  image: {{ include "nexus-database.image" $image }}
  imagePullPolicy: {{ $image.pullPolicy }}
  {{- if eq $w.kind "mongodb" }}
  args: ["--mongodb.uri=mongodb://127.0.0.1:27017/admin", "--mongodb.direct-connect", "--compatible-mode", "--web.listen-address=:9216"]
  env:
    - name: MONGODB_USER
      value: root
    - name: MONGODB_PASSWORD
      valueFrom: {secretKeyRef: {name: {{ $w.secret }}, key: root-password}}
  {{- else if eq $w.kind "postgres" }}
  env:
    - name: DATA_SOURCE_URI
      value: "127.0.0.1:5432/postgres?sslmode=disable"
    - name: DATA_SOURCE_USER
      value: postgres
    - name: DATA_SOURCE_PASS
      valueFrom: {secretKeyRef: {name: {{ $w.secret }}, key: postgres-password}}
  {{- else if eq $w.kind "redis" }}
  env:
    - name: REDIS_ADDR
      value: redis://127.0.0.1:6379
    - name: REDIS_PASSWORD
      valueFrom: {secretKeyRef: {name: {{ $w.secret }}, key: password}}
  {{- else if eq $w.kind "kafka" }}
  {{- if $root.Values.kafka.sasl.enabled }}
  env:
    - name: KAFKA_USERNAME
      valueFrom: {secretKeyRef: {name: {{ $w.secret }}, key: username}}
    - name: KAFKA_PASSWORD
      valueFrom: {secretKeyRef: {name: {{ $w.secret }}, key: password}}
  args: ["--kafka.server=127.0.0.1:9092", "--sasl.enabled", "--sasl.mechanism=plain", "--sasl.username=$(KAFKA_USERNAME)", "--sasl.password=$(KAFKA_PASSWORD)"]
  {{- else }}
  args: ["--kafka.server=127.0.0.1:9092"]
  {{- end }}
  {{- end }}
  ports:
    - name: metrics
      containerPort: {{ $w.metricsPort }}
  readinessProbe:
    tcpSocket: {port: metrics}
    periodSeconds: 15
  resources:
    {{- toYaml $root.Values.metrics.resources | nindent 4 }}
  securityContext:
    {{- include "nexus-database.containerSecurityContext" . | nindent 4 }}
{{- end }}

{{/*
Checksum of the scripts ConfigMap: pods restart when a script changes, and only then.
*/}}
{{- define "nexus-database.scriptsChecksum" -}}
checksum/scripts: {{ include (print .Template.BasePath "/scripts-configmap.yaml") . | sha256sum }}
{{- end }}

{{/*
Impossible combinations, reported together before anything is rendered.
*/}}
{{- define "nexus-database.validateValues" -}}
{{- $problems := list }}
{{- $net := .Values.networkPolicy }}
{{- if and (eq $net.mode "basic") (not $net.allowedNamespaces) }}
{{- $problems = append $problems "networkPolicy.mode=basic needs networkPolicy.allowedNamespaces (the namespaces whose pods may connect)" }}
{{- end }}
{{- range (include "nexus-database.workloads" . | fromYaml).items }}
{{- if and (eq $net.mode "strict") (not .internalOnly) (not .allowFrom) }}
{{- $problems = append $problems (printf "networkPolicy.mode=strict needs an allowFrom list for %s (nothing outside the data tier could connect)" .component) }}
{{- end }}
{{- if not .secret }}
{{- if ne .kind "zookeeper" }}
{{- $problems = append $problems (printf "%s has no existingSecret: the chart never generates passwords; create the Secret and name it" .component) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.kafka.enabled (eq (mod (int .Values.kafka.zookeeper.replicas) 2) 0) }}
{{- $problems = append $problems (printf "kafka.zookeeper.replicas=%v: a ZooKeeper ensemble needs an odd number of servers" .Values.kafka.zookeeper.replicas) }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- $problems = append $problems "metrics.serviceMonitor.enabled needs metrics.enabled (the exporters it scrapes)" }}
{{- end }}
{{- if $problems }}
{{- fail (printf "\n\nnexus-database: invalid values:\n  - %s" (join "\n  - " $problems)) }}
{{- end }}
{{- end }}
