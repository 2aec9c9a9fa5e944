#!/bin/sh
# The restore container of a FluxionDB tenant's restore Job (backups/tenants.py; rclone's image, POSIX sh), run while
# the tenant's Deployment is at 0 pods, on its claim (DATA_DIR): checks the archive (RESTORE_FILE, fetched and checked
# against its manifest by restore-fetch.sh), unpacks it beside the data, then makes it the volume's only content. A
# volume that holds data is refused unless FORCE=yes. Every way out before the swap says "left unchanged".
set -eu
umask 077
data="${DATA_DIR:-/data}"
unchanged() {
  echo "restore: $1: nothing restored, the data left unchanged" >&2
  exit "$2"
}
case "${RESTORE_FILE:-}" in
  *.tar.zst) decompress=zstd ;;
  *.tar.gz) decompress=gzip ;;
  *) unchanged "RESTORE_FILE ${RESTORE_FILE:-unset} is not a .tar.gz or .tar.zst archive" 2 ;;
esac
[ -s "$RESTORE_FILE" ] || unchanged "${RESTORE_FILE} is missing or empty" 2
if ! "$decompress" -dc "$RESTORE_FILE" | tar -t -f - > /dev/null; then
  unchanged "$(basename "$RESTORE_FILE") is not a readable archive" 2
fi
held="$(find "$data" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name .restoring ! -name .replaced | head -n 1)"
if [ -n "$held" ] && [ "${FORCE:-no}" != yes ]; then
  unchanged "the volume holds data ($(basename "$held")): refusing to replace it (--force replaces it)" 3
fi
rm -rf "${data}/.restoring" "${data}/.replaced"
mkdir "${data}/.restoring"
if ! "$decompress" -dc "$RESTORE_FILE" | tar -x -f - -C "${data}/.restoring"; then
  rm -rf "${data}/.restoring"
  unchanged "unpacking $(basename "$RESTORE_FILE") failed" 1
fi
# The swap: the old content aside, the new into place, then the old removed.
mkdir "${data}/.replaced"
find "$data" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name .restoring ! -name .replaced -exec mv {} "${data}/.replaced/" \;
find "${data}/.restoring" -mindepth 1 -maxdepth 1 -exec mv {} "${data}/" \;
rm -rf "${data}/.restoring" "${data}/.replaced"
echo "restored $(basename "$RESTORE_FILE") into ${data}; the tenant's pod loads it when it starts"
