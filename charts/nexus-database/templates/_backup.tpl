{{/*
Backup destinations (backup.bucket, backup.offsite): rclone remotes named BUCKET and OFFSITE, configured
entirely through rclone's RCLONE_CONFIG_<REMOTE>_* environment (no config file, no credentials in
argv), the keys from each destination's own Secret. <REMOTE>_PATH is `<bucket>/<prefix>`, where the
scripts put `<database>/<stamp>.<ext>` and its manifest. Shared by the backup CronJobs and the restore
Jobs `python -m backups restore` makes from them.
*/}}
{{- define "nexus-database.backupRemotes" -}}
{{- $destinations := list (list "BUCKET" .bucket) }}
{{- if .offsite.enabled }}
{{- $destinations = append $destinations (list "OFFSITE" .offsite) }}
{{- end }}
{{- range $destinations }}
{{- $remote := index . 0 }}
{{- $d := index . 1 }}
{{- if not (and $d.endpoint $d.bucket $d.existingSecret) }}
{{- fail (printf "backup.%s: endpoint, bucket and existingSecret are all required when it is enabled" (lower $remote)) }}
{{- end }}
- {name: RCLONE_CONFIG_{{ $remote }}_TYPE, value: s3}
- {name: RCLONE_CONFIG_{{ $remote }}_PROVIDER, value: Other}
- {name: RCLONE_CONFIG_{{ $remote }}_ENDPOINT, value: {{ $d.endpoint | quote }}}
- {name: RCLONE_CONFIG_{{ $remote }}_REGION, value: {{ $d.region | quote }}}
# Path-style requests: every S3-compatible store accepts them, not every one serves bucket subdomains.
- {name: RCLONE_CONFIG_{{ $remote }}_FORCE_PATH_STYLE, value: "true"}
{{- if $d.serverSideEncryption }}
- {name: RCLONE_CONFIG_{{ $remote }}_SERVER_SIDE_ENCRYPTION, value: AES256}
{{- end }}
- name: RCLONE_CONFIG_{{ $remote }}_ACCESS_KEY_ID
  valueFrom: {secretKeyRef: {name: {{ $d.existingSecret }}, key: access-key-id}}
- name: RCLONE_CONFIG_{{ $remote }}_SECRET_ACCESS_KEY
  valueFrom: {secretKeyRef: {name: {{ $d.existingSecret }}, key: secret-access-key}}
- {name: {{ $remote }}_PATH, value: {{ printf "%s/%s" $d.bucket $d.prefix | quote }}}
{{- end }}
- {name: REMOTES, value: {{ ternary "BUCKET OFFSITE" "BUCKET" (.offsite.enabled | default false) | quote }}}
# No rclone config file: everything is in the environment above.
- {name: RCLONE_CONFIG, value: /tmp/rclone.conf}
{{- end }}

{{/* The Secrets the backup pods read besides the database's own, as a YAML list. */}}
{{- define "nexus-database.backupSecrets" -}}
{{- $names := list }}
{{- if .bucket.enabled }}{{- $names = append $names .bucket.existingSecret }}{{- end }}
{{- if and .bucket.enabled .offsite.enabled }}{{- $names = append $names .offsite.existingSecret }}{{- end }}
{{- toYaml $names }}
{{- end }}

{{/*
Point-in-time recovery (backup.pointInTime): "true" when it is on; fails rendering, naming the values, when its
prerequisites are not.
*/}}
{{- define "nexus-database.pitr.enabled" -}}
{{- $b := .Values.backup }}
{{- if $b.pointInTime.enabled }}
{{- if not (and $b.enabled $b.bucket.enabled) }}
{{- fail "backup.pointInTime.enabled needs backup.enabled and backup.bucket.enabled: the WAL archive and the base backups are kept in the bucket" }}
{{- end }}
{{- /* An empty endpoint is backup.bucket's own error (nexus-database.backupRemotes). */}}
{{- range $key := list "bucket" "offsite" }}
{{- $dest := get $b $key }}
{{- if and $dest.enabled $dest.endpoint (not (hasPrefix "https://" $dest.endpoint)) }}
{{- fail (printf "backup.pointInTime.enabled needs an https:// backup.%s.endpoint, not %q: pgBackRest talks to S3 over TLS only" $key $dest.endpoint) }}
{{- end }}
{{- end }}
{{- print "true" }}
{{- end }}
{{- end }}

{{/*
The certificate of one database's pgBackRest connection (cert-manager's, from components/backups.py
point_in_time_certificate): its common name, and its Secret `<name>-tls`, mounted at /pgbackrest-tls by both ends.
The pgBackRest server in the PostgreSQL pods presents it (its names cover every pod of the headless Service) and
admits only a client presenting a certificate of this common name: the backup Job, with the same Secret. So
neither the database's own server key nor tls.mode is involved. (dict "component" ...)
*/}}
{{- define "nexus-database.pitr.certificate" -}}
{{- printf "%s-pgbackrest" .component }}
{{- end }}
{{- define "nexus-database.pitr.volume" -}}
- name: pgbackrest-tls
  secret:
    secretName: {{ printf "%s-tls" (include "nexus-database.pitr.certificate" .) }}
    defaultMode: 0440
{{- end }}

{{/* Where the data directory is in every PostgreSQL container (the StatefulSet's PGDATA). */}}
{{- define "nexus-database.pitr.pgdata" -}}
/var/lib/postgresql/data/pgdata
{{- end }}

{{/*
pgBackRest's settings for one database, all as PGBACKREST_* variables (no configuration file: PGBACKREST_CONFIG is
/dev/null), shared by the postgres container (archive-push, archive-get), the pgBackRest server sidecar, the base
backup container and the restore Job: (dict "context" $ "component" ...). The stanza is the database's name. Its
repositories: repo1 in backup.bucket and, with backup.offsite, repo2 in the off-site bucket, each
`/<prefix>/pgbackrest/<database>` with the keys of its own Secret. archive-push ships every WAL segment to both
(a segment counts as archived only once both have it), the base backup container backs up to each in turn
(PITR_REPOS), restore and archive-get read the first that holds what they need (PGBACKREST_REPO picks one).
The buckets' serverSideEncryption: pgBackRest 2.x can ask only for SSE-KMS (repoN-s3-kms-key-id), so its objects get
the bucket's default encryption (SSE-S3 on every AWS bucket).
*/}}
{{- define "nexus-database.pitr.env" -}}
{{- $b := .context.Values.backup }}
- {name: PGBACKREST_CONFIG, value: /dev/null}
- {name: PGBACKREST_STANZA, value: {{ .component }}}
- {name: PGBACKREST_PG1_PATH, value: {{ include "nexus-database.pitr.pgdata" . }}}
# The root filesystem is read-only: locks in the pod's scratch volume, logs on the console only.
- {name: PGBACKREST_LOCK_PATH, value: /tmp/pgbackrest}
- {name: PGBACKREST_LOG_PATH, value: /tmp}
- {name: PGBACKREST_LOG_LEVEL_FILE, value: "off"}
- {name: PGBACKREST_LOG_LEVEL_CONSOLE, value: warn}
{{- include "nexus-database.pitr.repo" (dict "n" 1 "bucket" $b.bucket "component" .component "retentionDays" $b.retentionDays) }}
{{- if $b.offsite.enabled }}
{{- include "nexus-database.pitr.repo" (dict "n" 2 "bucket" $b.offsite "component" .component "retentionDays" $b.retentionDays) }}
- {name: PITR_REPOS, value: "1 2"}
{{- else }}
- {name: PITR_REPOS, value: "1"}
{{- end }}
{{- end }}

{{/* One pgBackRest repository in a bucket: (dict "n" 1|2 "bucket" .Values.backup.bucket|offsite "component" ... "retentionDays" n) */}}
{{- define "nexus-database.pitr.repo" -}}
{{- $repo := printf "PGBACKREST_REPO%d" (int .n) }}
{{- $url := urlParse .bucket.endpoint }}
{{- $host := splitList ":" $url.host }}
- {name: {{ $repo }}_TYPE, value: s3}
- {name: {{ $repo }}_PATH, value: {{ printf "/%s/pgbackrest/%s" .bucket.prefix .component | quote }}}
- {name: {{ $repo }}_S3_BUCKET, value: {{ .bucket.bucket | quote }}}
- {name: {{ $repo }}_S3_ENDPOINT, value: {{ first $host | quote }}}
{{- if gt (len $host) 1 }}
- {name: {{ $repo }}_S3_PORT, value: {{ last $host | quote }}}
{{- end }}
- {name: {{ $repo }}_S3_REGION, value: {{ .bucket.region | quote }}}
- {name: {{ $repo }}_S3_URI_STYLE, value: path}
- name: {{ $repo }}_S3_KEY
  valueFrom: {secretKeyRef: {name: {{ .bucket.existingSecret }}, key: access-key-id}}
- name: {{ $repo }}_S3_KEY_SECRET
  valueFrom: {secretKeyRef: {name: {{ .bucket.existingSecret }}, key: secret-access-key}}
{{- if gt (int .retentionDays) 0 }}
# backup.retentionDays: full backups older than that expire after each backup, with the WAL only they need.
- {name: {{ $repo }}_RETENTION_FULL_TYPE, value: time}
- {name: {{ $repo }}_RETENTION_FULL, value: {{ .retentionDays | quote }}}
{{- end }}
{{- end }}

{{/*
The pgBackRest server sidecar of a PostgreSQL pod (point-in-time recovery): it serves PGDATA to the base backup
container of the backup Job, over TLS, to the one client
certificate nexus-database.pitr.certificate names only, for this database's stanza only. (dict "context" $ "workload" .)
*/}}
{{- define "nexus-database.pitr.server" -}}
{{- $root := .context }}
{{- $w := .workload }}
{{- $pitr := $root.Values.backup.pointInTime }}
- name: pgbackrest
  image: {{ include "nexus-lib.image" (dict "image" $pitr.image) }}
  imagePullPolicy: {{ $pitr.image.pullPolicy }}
  command: ["bash", "/scripts/pgbackrest-server.sh"]
  env:
    {{- include "nexus-database.pitr.env" (dict "context" $root "component" $w.component) | nindent 4 }}
    - {name: PGBACKREST_PG1_SOCKET_PATH, value: /var/run/postgresql}
    - {name: PGBACKREST_PG1_PORT, value: "5432"}
    - name: PGBACKREST_TLS_SERVER_ADDRESS
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - {name: PGBACKREST_TLS_SERVER_PORT, value: {{ $pitr.serverPort | quote }}}
    - {name: PGBACKREST_TLS_SERVER_CERT_FILE, value: /pgbackrest-tls/tls.crt}
    - {name: PGBACKREST_TLS_SERVER_KEY_FILE, value: /pgbackrest-tls/tls.key}
    - {name: PGBACKREST_TLS_SERVER_CA_FILE, value: /pgbackrest-tls/ca.crt}
    - {name: PGBACKREST_TLS_SERVER_AUTH, value: {{ printf "%s=%s" (include "nexus-database.pitr.certificate" (dict "component" $w.component)) $w.component | quote }}}
  ports:
    - {name: pgbackrest, containerPort: {{ $pitr.serverPort }}}
  resources:
    {{- toYaml $root.Values.helperResources | nindent 4 }}
  securityContext:
    {{- include "nexus-lib.containerSecurityContext" $w | nindent 4 }}
  volumeMounts:
    - {name: data, mountPath: /var/lib/postgresql/data}
    - {name: run, mountPath: /var/run/postgresql}
    - {name: tmp, mountPath: /tmp}
    - {name: scripts, mountPath: /scripts, readOnly: true}
    - {name: pgbackrest-tls, mountPath: /pgbackrest-tls, readOnly: true}
{{- end }}

{{/*
The base backup container of a PostgreSQL backup CronJob (point-in-time recovery): a full pgBackRest backup of the
primary through its pgBackRest server. (dict "context" $ "workload" .)
*/}}
{{- define "nexus-database.pitr.baseBackup" -}}
{{- $root := .context }}
{{- $w := .workload }}
{{- $pitr := $root.Values.backup.pointInTime }}
- name: base-backup
  image: {{ include "nexus-lib.image" (dict "image" $pitr.image) }}
  imagePullPolicy: {{ $pitr.image.pullPolicy }}
  command: ["bash", "/scripts/backup-pgbackrest.sh"]
  env:
    {{- include "nexus-database.pitr.env" (dict "context" $root "component" $w.component) | nindent 4 }}
    - {name: PGBACKREST_PG1_HOST, value: {{ printf "%s-0.%s-headless.%s" $w.component $w.component (include "nexus-database.domain" $root) | quote }}}
    - {name: PGBACKREST_PG1_HOST_TYPE, value: tls}
    - {name: PGBACKREST_PG1_HOST_PORT, value: {{ $pitr.serverPort | quote }}}
    - {name: PGBACKREST_PG1_HOST_CERT_FILE, value: /pgbackrest-tls/tls.crt}
    - {name: PGBACKREST_PG1_HOST_KEY_FILE, value: /pgbackrest-tls/tls.key}
    - {name: PGBACKREST_PG1_HOST_CA_FILE, value: /pgbackrest-tls/ca.crt}
    - {name: HOME, value: /tmp}
  resources:
    {{- toYaml $root.Values.backup.resources | nindent 4 }}
  securityContext:
    {{- include "nexus-lib.containerSecurityContext" $w | nindent 4 }}
  volumeMounts:
    - {name: tmp, mountPath: /tmp}
    - {name: scripts, mountPath: /scripts, readOnly: true}
    - {name: pgbackrest-tls, mountPath: /pgbackrest-tls, readOnly: true}
{{- end }}
