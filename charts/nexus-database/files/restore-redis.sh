#!/bin/bash
# The restore container of a Redis restore Job (`python -m backups restore redis`), run while the StatefulSet is at
# 0 pods, on the primary's data volume (/data, claim data-redis-0): it checks the snapshot (RESTORE_FILE, or the
# newest of RESTORE_DATE on the backup volume) with redis-check-rdb, then makes it the volume's only dataset:
# dump.rdb replaced and the AOF directory removed, so redis-start.sh loads the snapshot (AOF off) at the next start
# and writes the AOF anew from it. A volume that holds a dataset is refused unless FORCE=yes. Every way out before
# the swap says "left unchanged" (the CLI then starts the server again, backups/cli.py UNCHANGED).
set -euo pipefail
umask 077
data=/data
unchanged() {
  echo "restore: $1: nothing restored, the data left unchanged" >&2
  exit "$2"
}
if [ -z "${RESTORE_FILE:-}" ]; then
  RESTORE_FILE="$(ls -1 "/backups/${TARGET}/${RESTORE_DATE}"T*.rdb 2>/dev/null | tail -n 1 || true)"
fi
if [ ! -s "${RESTORE_FILE:-}" ]; then
  unchanged "${RESTORE_FILE:-no snapshot of ${RESTORE_DATE:-?} on the volume} is missing or empty" 2
fi
if ! check="$(redis-check-rdb "$RESTORE_FILE" 2>&1)"; then
  printf '%s\n' "$check" >&2
  unchanged "$(basename "$RESTORE_FILE") is not a readable RDB snapshot" 2
fi
if [ -e "${data}/dump.rdb" ] || [ -e "${data}/appendonlydir" ]; then
  if [ "${FORCE:-no}" != yes ]; then
    unchanged "the volume holds a dataset (dump.rdb or appendonlydir): refusing to replace it (--force replaces it)" 3
  fi
fi
# The swap: the new snapshot beside the old data first, so a copy cut short never replaces anything.
cp "$RESTORE_FILE" "${data}/.dump.rdb.restoring"
sync "${data}/.dump.rdb.restoring" 2>/dev/null || true
if [ -e "${data}/appendonlydir" ]; then
  rm -rf "${data}/.appendonlydir.replaced"
  mv "${data}/appendonlydir" "${data}/.appendonlydir.replaced"
fi
mv "${data}/.dump.rdb.restoring" "${data}/dump.rdb"
rm -rf "${data}/.appendonlydir.replaced"
echo "restored $(basename "$RESTORE_FILE") into ${data}/dump.rdb; redis-start.sh loads it and writes a new AOF"
