{{/*
Alert rules more than one chart raises the same way. Each returns rules (list items of a PrometheusRule group),
to be indented by the caller.
*/}}

{{/*
A backup that failed, and one that is late: a Job of the CronJob `cronJob` failed (kube-state-metrics names the
CronJob's Jobs `<cronJob>-<n>`, the backup CLI's `<cronJob>-now-<stamp>`), or its last success is older than
`maxAgeHours`. A backup that never succeeded has no last-success series: the failed Job says so. (dict "prefix"
alert names' prefix "subject" what is backed up "namespace" ns "cronJob" name "maxAgeHours" n "labels" dict
"manual" the command that takes one now)
*/}}
{{- define "nexus-lib.backupAlerts" -}}
{{- $ns := .namespace }}
- alert: {{ .prefix }}BackupFailed
  expr: kube_job_status_failed{namespace={{ $ns | quote }}, job_name=~{{ printf "%s-.*" .cronJob | quote }}} > 0
  labels: {{ merge (dict "severity" "critical") .labels | toJson }}
  annotations:
    summary: "{{ .subject }}: backup job {{ "{{ $labels.job_name }}" }} in {{ $ns }} failed"
    runbook: "kubectl -n {{ $ns }} logs job/{{ "{{ $labels.job_name }}" }} --all-containers; fix the cause (bucket credentials or reachability, a full volume) and take one now: {{ .manual }}."
- alert: {{ .prefix }}BackupLate
  expr: time() - kube_cronjob_status_last_successful_time{namespace={{ $ns | quote }}, cronjob={{ .cronJob | quote }}} > {{ mul .maxAgeHours 3600 }}
  labels: {{ merge (dict "severity" "critical") .labels | toJson }}
  annotations:
    summary: "{{ .subject }}: no successful backup in {{ $ns }} for more than {{ .maxAgeHours }} hours"
    runbook: "kubectl -n {{ $ns }} get cronjob {{ .cronJob }} and its jobs: a suspended CronJob, jobs failing or never scheduled. Take a backup by hand before anything else: {{ .manual }}."
{{- end }}
