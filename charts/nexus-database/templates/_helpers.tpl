{{/*
nexus-database: only what is its own (the databases and what they share). Names, labels, selector labels,
security contexts, checksums and validation come from the nexus-lib library chart. Per-database objects carry
the fixed names the specification documents (cart-mongodb-headless, product-postgres-service, redis-service,
kafka-service): applications are configured with them. Their labels and selectors add the database's component:
(dict "context" $ "component" "cart-mongodb") to nexus-lib.labels / nexus-lib.selectorLabels. One release runs
many StatefulSets, so name + instance alone would make every StatefulSet claim every pod: the component label is
the one addition, and it never changes.
*/}}

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
    {{- if ne $.Values.tls.mode "required" }}
    # tls.mode enabled: the TLS port beside plaintext 6379 (required: 6379 itself is TLS, port 0 closes plaintext).
    tlsPort: 6380
    {{- end }}
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
    {{- if ne $.Values.tls.mode "required" }}
    # tls.mode enabled: the TLS listener beside the plaintext one (required: 9092 itself is TLS).
    tlsPort: 9093
    {{- end }}
    # The broker's own JVM serves its metrics (files/jmx-agent.sh).
    metricsPort: 9404
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
    # secureClientPort (tls.mode enabled or required; required closes 2181).
    tlsPort: 2182
    metricsPort: 7000
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

{{/*
Scheduling shared by every pod of one database: (dict "context" $ "component" "cart-mongodb").
*/}}
{{- define "nexus-database.scheduling" -}}
{{- $root := .context }}
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
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "nexus-lib.selectorLabels" . | fromYaml)) }}
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
StatefulSet fields every database shares: (dict "context" $ "component" ... "workload" <item>).
*/}}
{{- define "nexus-database.statefulSetCommon" -}}
serviceName: {{ .component }}-headless
replicas: {{ .workload.replicas }}
selector:
  matchLabels:
    {{- include "nexus-lib.selectorLabels" . | nindent 4 }}
updateStrategy:
  type: RollingUpdate
persistentVolumeClaimRetentionPolicy:
  whenDeleted: {{ ternary "Retain" "Delete" .context.Values.persistence.retainOnDelete }}
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
      {{- include "nexus-lib.selectorLabels" . | nindent 6 }}
  spec:
    accessModes: [ReadWriteOnce]
    {{- with .context.Values.global.storageClass }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests:
        storage: {{ .workload.storageSize }}
{{- end }}

{{/*
The exporter sidecar of one workload (metrics.enabled): (dict "context" $ "workload" <item>).
*/}}
{{- define "nexus-database.exporter" -}}
{{- $root := .context }}
{{- $w := .workload }}
{{- $images := $root.Values.images }}
- name: metrics
  {{- $image := get (dict "mongodb" $images.mongodbExporter "postgres" $images.postgresExporter "redis" $images.redisExporter) $w.kind }}
  image: {{ include "nexus-lib.image" (dict "image" $image) }}
  imagePullPolicy: {{ $image.pullPolicy }}
  {{- if eq $w.kind "mongodb" }}
  {{- if include "nexus-database.tls.required" $root }}
  # requireTLS refuses plaintext on loopback too: TLS, the server checked against the CA (it names 127.0.0.1).
  args: ["--mongodb.uri=mongodb://127.0.0.1:27017/admin?tls=true&tlsCAFile={{ include "nexus-database.tls.mountPath" $root }}/ca.crt", "--mongodb.direct-connect", "--compatible-mode", "--web.listen-address=:9216"]
  {{- else }}
  args: ["--mongodb.uri=mongodb://127.0.0.1:27017/admin", "--mongodb.direct-connect", "--compatible-mode", "--web.listen-address=:9216"]
  {{- end }}
  env:
    - name: MONGODB_USER
      value: root
    - name: MONGODB_PASSWORD
      valueFrom: {secretKeyRef: {name: {{ $w.secret }}, key: root-password}}
  {{- if include "nexus-database.tls.required" $root }}
  volumeMounts:
    - {name: tls-ca, mountPath: {{ include "nexus-database.tls.mountPath" $root }}, readOnly: true}
  {{- end }}
  {{- else if eq $w.kind "postgres" }}
  env:
    - name: DATA_SOURCE_URI
      {{- if include "nexus-database.tls.required" $root }}
      # The hba file refuses plaintext on loopback too: TLS, the server checked against the CA (it names 127.0.0.1).
      value: "127.0.0.1:5432/postgres?sslmode=verify-full&sslrootcert={{ include "nexus-database.tls.mountPath" $root }}/ca.crt"
      {{- else }}
      value: "127.0.0.1:5432/postgres?sslmode=disable"
      {{- end }}
    - name: DATA_SOURCE_USER
      value: postgres
    - name: DATA_SOURCE_PASS
      valueFrom: {secretKeyRef: {name: {{ $w.secret }}, key: postgres-password}}
  {{- if include "nexus-database.tls.required" $root }}
  volumeMounts:
    - {name: tls-ca, mountPath: {{ include "nexus-database.tls.mountPath" $root }}, readOnly: true}
  {{- end }}
  {{- else if eq $w.kind "redis" }}
  env:
    {{- if include "nexus-database.tls.required" $root }}
    # No plaintext port (port 0): TLS on 6379, the server checked against the CA (it names 127.0.0.1).
    - name: REDIS_ADDR
      value: rediss://127.0.0.1:6379
    - name: REDIS_EXPORTER_TLS_CA_CERT_FILE
      value: {{ include "nexus-database.tls.mountPath" $root }}/ca.crt
    {{- else }}
    - name: REDIS_ADDR
      value: redis://127.0.0.1:6379
    {{- end }}
    - name: REDIS_PASSWORD
      valueFrom: {secretKeyRef: {name: {{ $w.secret }}, key: password}}
  {{- if include "nexus-database.tls.required" $root }}
  volumeMounts:
    - {name: tls-ca, mountPath: {{ include "nexus-database.tls.mountPath" $root }}, readOnly: true}
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
    {{- include "nexus-lib.containerSecurityContext" . | nindent 4 }}
{{- end }}

{{/*
Kafka and ZooKeeper have no exporter sidecar: their JVMs serve the Prometheus JMX exporter agent's metrics
themselves (metrics.enabled). The env their start scripts pass to files/jmx-agent.sh: the port and the rules file.
*/}}
{{- define "nexus-database.jmxMetricsEnv" -}}
- {name: METRICS_PORT, value: {{ .metricsPort | quote }}}
- {name: METRICS_CONFIG, value: {{ printf "/scripts/jmx-%s.yaml" .kind | quote }}}
{{- end }}

{{/*
Pod-template annotations of one database's pods: the checksum of the scripts the servers run (pods restart when one
of those changes, and only then: files/backup-* and files/restore-* are run by backup and restore Jobs, which read
the ConfigMap when they start, so adding or changing one restarts no database), plus checksum/secret-<name> for its
credentials Secret when secretChecksums names it. (dict "context" $ "component" ... "workload" <item>)
*/}}
{{- define "nexus-database.checksums" -}}
{{- $root := .context }}
{{- $served := dict }}
{{- range $path, $_ := $root.Files.Glob "files/*" }}
{{- if not (or (hasPrefix "files/backup-" $path) (hasPrefix "files/restore-" $path)) }}
{{- $_ := set $served (base $path) ($root.Files.Get $path) }}
{{- end }}
{{- end }}
{{- $scripts := toYaml $served }}
{{- $reads := compact (list .workload.secret) }}
{{- if and (eq .workload.kind "kafka") (not $root.Values.kafka.sasl.enabled) }}
{{- /* Brokers read their Secret only for SASL. */}}
{{- $reads = list }}
{{- end }}
{{- include "nexus-lib.checksums" (dict "context" $root "owned" (dict "scripts" $scripts) "reads" $reads) }}
{{- if include "nexus-database.tls.enabled" $root }}
{{- /* What the server does with plaintext clients; the policy pack's data-store-tls-required reads it. */}}
nexus-platform/tls-mode: {{ $root.Values.tls.mode }}
{{- end }}
{{- end }}

{{/*
The data tier's own impossible combinations, one message per line (nexus-lib.validateValues adds the shared
ones and fails with all of them at once, before anything is rendered).
*/}}
{{- define "nexus-database.validateValues" -}}
{{- $net := .Values.networkPolicy }}
{{- if and (eq $net.mode "basic") (not $net.allowedNamespaces) }}
networkPolicy.mode=basic needs networkPolicy.allowedNamespaces (the namespaces whose pods may connect)
{{ end }}
{{- range (include "nexus-database.workloads" . | fromYaml).items }}
{{- if and (eq $net.mode "strict") (not .internalOnly) (not .allowFrom) }}
networkPolicy.mode=strict needs an allowFrom list for {{ .component }} (nothing outside the data tier could connect)
{{ end }}
{{- if and (not .secret) (ne .kind "zookeeper") }}
{{ .component }} has no existingSecret: the chart never generates passwords; create the Secret and name it
{{ end }}
{{- end }}
{{- if and .Values.kafka.enabled (eq (mod (int .Values.kafka.zookeeper.replicas) 2) 0) }}
kafka.zookeeper.replicas={{ .Values.kafka.zookeeper.replicas }}: a ZooKeeper ensemble needs an odd number of servers
{{ end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
metrics.serviceMonitor.enabled needs metrics.enabled (the exporters it scrapes)
{{ end }}
{{- end }}

{{/*
The ingress rules of one database's NetworkPolicy (networkPolicy.mode basic or strict), as YAML:
(dict "context" $ "workload" <item>).
*/}}
{{- define "nexus-database.networkPolicyIngress" -}}
{{- $root := .context }}
{{- $mode := $root.Values.networkPolicy.mode }}
{{- $ctx := dict "context" $root "component" .workload.component }}
{{- $port := .workload.port }}
{{- /* A kind whose TLS listener is a port of its own (workloads: tlsPort) admits it as well while TLS is on. */}}
{{- $tlsPort := .workload.tlsPort }}
{{- with .workload }}
{{- if eq $mode "basic" }}
# The data tier's own pods: replication, backups, Kafka to ZooKeeper.
- from:
    - podSelector:
        matchLabels:
          {{- include "nexus-lib.selectorLabels" $root | nindent 10 }}
{{- if not .internalOnly }}
# The application namespaces.
- from:
    - namespaceSelector:
        matchExpressions:
          - key: kubernetes.io/metadata.name
            operator: In
            values: {{ $root.Values.networkPolicy.allowedNamespaces | toJson }}
  ports:
    - {protocol: TCP, port: {{ $port }}}
    {{- if and $tlsPort (include "nexus-database.tls.enabled" $root) }}
    - {protocol: TCP, port: {{ $tlsPort }}}
    {{- end }}
{{- end }}
{{- else }}
# strict: only this database's own members, its backup job and its credential rotation job...
- from:
    - podSelector:
        matchLabels:
          {{- include "nexus-lib.selectorLabels" $ctx | nindent 10 }}
    - podSelector:
        matchLabels:
          nexus.io/backup-of: {{ .component }}
    - podSelector:
        matchLabels:
          nexus.io/rotation-of: {{ .component }}
    {{- if eq .kind "zookeeper" }}
    # ...the brokers, for ZooKeeper...
    - podSelector:
        matchLabels:
          {{- include "nexus-lib.selectorLabels" (dict "context" $root "component" "kafka") | nindent 10 }}
    {{- end }}
{{- range .allowFrom }}
# ...and the peers this database's allow list names.
- from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .namespace }}
      {{- with .podLabels }}
      podSelector:
        matchLabels:
          {{- range $key, $value := . }}
          {{ $key }}: {{ $value | quote }}
          {{- end }}
      {{- end }}
  ports:
    - {protocol: TCP, port: {{ $port }}}
    {{- if and $tlsPort (include "nexus-database.tls.enabled" $root) }}
    - {protocol: TCP, port: {{ $tlsPort }}}
    {{- end }}
{{- end }}
{{- end }}
{{- if and $root.Values.metrics.enabled .metricsPort }}
# Exporter metrics carry no credentials; the scraper's namespace varies by cluster.
- ports:
    - {protocol: TCP, port: {{ .metricsPort }}}
{{- end }}
{{- end }}
{{- end }}

{{/*
The panels of each database kind's Grafana dashboard (templates/dashboards.yaml): title and PromQL, `$namespace`
the dashboard's variable. `up` names the metric whose namespaces fill the variable.
*/}}
{{- define "nexus-database.dashboardPanels" -}}
postgres:
  title: PostgreSQL (nexus-database and Bitnami clusters)
  up: pg_up
  panels:
    - {title: "Server up", expr: "pg_up{namespace=\"$namespace\"}"}
    - {title: "Connections in use (% of max_connections)", expr: "sum by (pod) (pg_stat_activity_count{namespace=\"$namespace\"}) / on (pod) group_left pg_settings_max_connections{namespace=\"$namespace\"} * 100"}
    - {title: "Replication lag of standbys (s)", expr: "pg_replication_lag_seconds{namespace=\"$namespace\"}"}
    - {title: "Transactions committed / s", expr: "sum by (pod) (rate(pg_stat_database_xact_commit{namespace=\"$namespace\"}[5m]))"}
    - {title: "Database size", expr: "pg_database_size_bytes{namespace=\"$namespace\"}", legend: "{{ "{{pod}} {{datname}}" }}"}
    - {title: "Data volume used (%)", expr: "kubelet_volume_stats_used_bytes{namespace=\"$namespace\"} / kubelet_volume_stats_capacity_bytes{namespace=\"$namespace\"} * 100", legend: "{{ "{{persistentvolumeclaim}}" }}"}
mongodb:
  title: MongoDB (nexus-database)
  up: mongodb_up
  panels:
    - {title: "Server up", expr: "mongodb_up{namespace=\"$namespace\"}"}
    - {title: "Connections (current)", expr: "mongodb_connections{namespace=\"$namespace\", state=\"current\"}"}
    - {title: "Replication lag of secondaries (s)", expr: "mongodb_mongod_replset_member_replication_lag{namespace=\"$namespace\"}", legend: "{{ "{{name}}" }}"}
    - {title: "Operations / s", expr: "sum by (pod, type) (rate(mongodb_op_counters_total{namespace=\"$namespace\"}[5m]))", legend: "{{ "{{pod}} {{type}}" }}"}
    - {title: "Data volume used (%)", expr: "kubelet_volume_stats_used_bytes{namespace=\"$namespace\", persistentvolumeclaim=~\"data-.*-mongodb-[0-9]+\"} / kubelet_volume_stats_capacity_bytes{namespace=\"$namespace\", persistentvolumeclaim=~\"data-.*-mongodb-[0-9]+\"} * 100", legend: "{{ "{{persistentvolumeclaim}}" }}"}
redis:
  title: Redis (nexus-database)
  up: redis_up
  panels:
    - {title: "Server up", expr: "redis_up{namespace=\"$namespace\"}"}
    - {title: "Clients (% of maxclients)", expr: "redis_connected_clients{namespace=\"$namespace\"} / on (pod) redis_config_maxclients{namespace=\"$namespace\"} * 100"}
    - {title: "Memory used", expr: "redis_memory_used_bytes{namespace=\"$namespace\"}"}
    - {title: "Commands / s", expr: "rate(redis_commands_processed_total{namespace=\"$namespace\"}[5m])"}
    - {title: "Replicas connected to the primary", expr: "redis_connected_slaves{namespace=\"$namespace\"}"}
    - {title: "Replica link to the primary up", expr: "redis_master_link_up{namespace=\"$namespace\"}"}
kafka:
  title: Kafka (nexus-database)
  up: kafka_controller_kafkacontroller_activecontrollercount
  panels:
    - {title: "Active controllers (exactly one)", expr: "sum(kafka_controller_kafkacontroller_activecontrollercount{namespace=\"$namespace\"})", legend: "controllers"}
    - {title: "Under-replicated partitions", expr: "kafka_server_replicamanager_underreplicatedpartitions{namespace=\"$namespace\"}"}
    - {title: "Offline partitions", expr: "max(kafka_controller_kafkacontroller_offlinepartitionscount{namespace=\"$namespace\"})", legend: "offline"}
    - {title: "Messages in / s", expr: "rate(kafka_server_brokertopicmetrics_messagesin_total{namespace=\"$namespace\"}[5m])"}
    - {title: "Bytes in / s", expr: "rate(kafka_server_brokertopicmetrics_bytesin_total{namespace=\"$namespace\"}[5m])"}
    - {title: "Bytes out / s", expr: "rate(kafka_server_brokertopicmetrics_bytesout_total{namespace=\"$namespace\"}[5m])"}
    - {title: "Request time p99 (ms)", expr: "kafka_network_requestmetrics_totaltimems_p99{namespace=\"$namespace\"}", legend: "{{ "{{pod}} {{request}}" }}"}
    - {title: "Broker JVM heap used", expr: "jvm_memory_bytes_used{namespace=\"$namespace\", area=\"heap\", pod=~\"kafka-[0-9]+\"}"}
zookeeper:
  title: ZooKeeper (nexus-database)
  up: zookeeper_numaliveconnections
  panels:
    - {title: "Alive connections", expr: "zookeeper_numaliveconnections{namespace=\"$namespace\"}", legend: "{{ "{{pod}} {{role}}" }}"}
    - {title: "Outstanding requests", expr: "zookeeper_outstandingrequests{namespace=\"$namespace\"}"}
    - {title: "Average request latency (ms)", expr: "zookeeper_avgrequestlatency{namespace=\"$namespace\"}"}
    - {title: "Znodes", expr: "zookeeper_datatree_nodecount{namespace=\"$namespace\"}"}
    - {title: "Watches", expr: "zookeeper_datatree_watchcount{namespace=\"$namespace\"}"}
    - {title: "Server JVM heap used", expr: "jvm_memory_bytes_used{namespace=\"$namespace\", area=\"heap\", pod=~\"zookeeper-[0-9]+\"}"}
{{- end }}

{{/*
The ServiceAccount one workload's pods run as: (dict "component" "product-postgres"). One per workload, so a
binding or a policy can name it; its token is never mounted (no pod of the data tier calls the Kubernetes API).
A backup CronJob is a workload of its own: (dict "component" "product-postgres" "backupJob" true). (Not `backup`:
a workloads item carries `backup: true` when the database is backed up.)
*/}}
{{- define "nexus-database.serviceAccountName" -}}
{{- if .backupJob }}{{ printf "%s-backup" .component }}{{ else }}{{ .component }}{{ end }}
{{- end }}

{{/*
TLS (tls.mode). "true" when servers offer TLS / when they refuse plaintext; call with the root context.
*/}}
{{- define "nexus-database.tls.enabled" -}}
{{- if ne .Values.tls.mode "disabled" }}true{{ end }}
{{- end }}
{{- define "nexus-database.tls.required" -}}
{{- if eq .Values.tls.mode "required" }}true{{ end }}
{{- end }}

{{/*
The Secret holding one workload's server certificate (tls.crt, tls.key, ca.crt), issued by cert-manager from the
Certificate of the same name: (dict "component" "product-postgres").
*/}}
{{- define "nexus-database.tls.secretName" -}}
{{- printf "%s-tls" .component }}
{{- end }}

{{/*
Where every server reads its certificate, key and CA bundle.
*/}}
{{- define "nexus-database.tls.mountPath" -}}
/tls
{{- end }}

{{/*
The certificate volume of one workload's pods (when TLS is enabled): (dict "component" ...). Group-readable
(fsGroup) only: PostgreSQL refuses a key file others can read.
*/}}
{{- define "nexus-database.tls.volume" -}}
- name: tls
  secret:
    secretName: {{ include "nexus-database.tls.secretName" . }}
    defaultMode: 0440
{{- end }}
{{- define "nexus-database.tls.volumeMount" -}}
- {name: tls, mountPath: {{ include "nexus-database.tls.mountPath" . }}, readOnly: true}
{{- end }}
