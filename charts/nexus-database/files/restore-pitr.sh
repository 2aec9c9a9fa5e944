#!/bin/bash
# The restore container of a point-in-time restore Job (`python -m backups restore --to-time`): run while the
# StatefulSet is at 0 pods, on the primary's data volume. pgBackRest restores the newest base backup that ended
# before TARGET_TIME into PGDATA (--delta: files that already match are kept) and writes the recovery settings
# with which PostgreSQL, at its next start, replays the archived WAL up to TARGET_TIME and then promotes itself (a
# new timeline). A target in the future, or before the end of the oldest base backup (nothing to start from), is
# refused before PGDATA is touched (exit 3).
set -euo pipefail
: "${TARGET_TIME:?TARGET_TIME (YYYY-MM-DD HH:MM:SS+00) is required}"
if ! target="$(date -u -d "$TARGET_TIME" +%s 2>/dev/null)"; then
  echo "restore-pitr: TARGET_TIME '${TARGET_TIME}' is not a time (YYYY-MM-DD HH:MM:SS+00)" >&2
  exit 2
fi
if [ "$target" -gt "$(date -u +%s)" ]; then
  echo "restore-pitr: ${TARGET_TIME} is in the future: nothing has been archived for it yet" >&2
  exit 3
fi
if ! info="$(pgbackrest --output=json info)"; then
  echo "restore-pitr: pgbackrest info failed: the repository of ${PGBACKREST_STANZA} cannot be read" >&2
  exit 2
fi
# Backups are listed oldest first; the only numeric "stop" fields are their end times (epoch seconds).
oldest="$(grep -oE '"stop":[0-9]+' <<< "$info" | head -n 1 | cut -d: -f2 || true)"
if [ -z "$oldest" ]; then
  echo "restore-pitr: stanza ${PGBACKREST_STANZA} has no base backup yet: nothing to restore from" >&2
  exit 3
fi
if [ "$target" -lt "$oldest" ]; then
  echo "restore-pitr: ${TARGET_TIME} is before the end of the oldest base backup of ${PGBACKREST_STANZA}" \
    "($(date -u -d "@${oldest}" '+%Y-%m-%d %H:%M:%S+00')): the earliest moment it can restore is that one" >&2
  exit 3
fi
if [ -f "${PGBACKREST_PG1_PATH}/postmaster.pid" ]; then
  # pgBackRest refuses too; said here so the operator reads why, before anything changed.
  echo "restore-pitr: ${PGBACKREST_PG1_PATH} holds a postmaster.pid: is the server still running?" >&2
fi
mkdir -p "$PGBACKREST_PG1_PATH"
chmod 0700 "$PGBACKREST_PG1_PATH"
pgbackrest --log-level-console=info --type=time --target="$TARGET_TIME" --target-action=promote --delta restore
echo "restored ${PGBACKREST_STANZA} to ${TARGET_TIME}: PostgreSQL replays the WAL up to it at its next start"
