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
