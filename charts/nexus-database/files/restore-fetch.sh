#!/bin/sh
# The fetch container of a restore Job (`python -m backups restore`, rclone's image): downloads one backup
# (BACKUP_OBJECT) and its manifest from SOURCE (BUCKET or OFFSITE) onto the backup volume, and refuses it
# unless its size and sha256 are the manifest's. The restore container then reads RESTORE_FILE.
set -eu
umask 077
remote="${SOURCE:-BUCKET}"
eval "base=\${${remote}_PATH}"
src="${remote}:${base}/${TARGET}"
out="$(dirname "$RESTORE_FILE")"
mkdir -p "$out"
rclone copyto "${src}/${BACKUP_OBJECT}.manifest.json" "${out}/manifest.json"
rclone copyto "${src}/${BACKUP_OBJECT}" "$RESTORE_FILE"
expected="$(sed -n 's/.*"sha256": "\([0-9a-f]*\)".*/\1/p' "${out}/manifest.json")"
actual="$(sha256sum "$RESTORE_FILE" | cut -d ' ' -f 1)"
if [ -z "$expected" ] || [ "$expected" != "$actual" ]; then
  echo "restore: ${BACKUP_OBJECT} does not match its manifest (sha256 ${actual}, manifest ${expected:-none}):" \
    "nothing restored, the data left unchanged" >&2
  rm -f "$RESTORE_FILE"
  exit 1
fi
echo "fetched ${remote}: ${base}/${TARGET}/${BACKUP_OBJECT} (sha256 ${actual}, as its manifest says)"
