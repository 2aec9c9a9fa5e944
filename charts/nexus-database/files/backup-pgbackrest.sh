#!/bin/bash
# base-backup container of a PostgreSQL backup CronJob with point-in-time recovery on: a full pgBackRest backup of
# the primary, read through the pgBackRest server in its pod. With the WAL archive_command ships, it lets any moment
# after its end be restored (restore-pitr.sh). After the backup, pgBackRest expires full backups older than the
# retention (PGBACKREST_REPO<n>_RETENTION_FULL days) and the WAL only they needed. A backup that did not finish is
# never restored from: pgBackRest records a backup in the stanza's backup.info only once it is complete.
set -euo pipefail
# Idempotent: succeeds when the stanza exists and matches the cluster.
pgbackrest --log-level-console=info stanza-create
# Full every run: with time-based retention, each backup must stand alone so the old ones can expire. One backup
# per repository (PITR_REPOS: the bucket, then the off-site one), each complete on its own; any failure fails the Job.
for repo in ${PITR_REPOS:-1}; do
  pgbackrest --log-level-console=info --repo="$repo" --type=full backup
done
pgbackrest info
