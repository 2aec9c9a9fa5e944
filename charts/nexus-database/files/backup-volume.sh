#!/bin/sh
# The backup container of a FluxionDB tenant's backup CronJob (components/fluxion_tenant.py; rclone's image, busybox
# sh, so POSIX sh only): archives the tenant's volume (SOURCE_DIR, the claim mounted read-only) into the pod's
# scratch volume as /backups/<TARGET>/<stamp>.tar.gz (COMPRESSION gzip, what the image has) or .tar.zst (zstd), under a
# hidden .partial name renamed only once tar and the compressor both exited 0, and names it in /tmp/last-backup for
# backup-upload.sh, as backup-common.sh does for the databases (which needs bash's pipefail, so is not sourced here).
#
# FluxionDB may flush while tar reads (every --flush-interval seconds; it has no flush or snapshot hook to call), so
# an archive during which a file changed is taken again, up to ATTEMPTS times: the archive kept is the one no flush
# touched, or, after the last attempt, crash-consistent at best (said in the log).
set -eu
umask 077
src="${SOURCE_DIR:-/data}"
dir="/backups/${TARGET}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$dir"
compression="${COMPRESSION:-auto}"
if [ "$compression" = auto ]; then
  if command -v zstd >/dev/null 2>&1; then compression=zstd; else compression=gzip; fi
fi
case "$compression" in
  zstd) ext=tar.zst ;;
  gzip) ext=tar.gz ;;
  *) echo "backup: COMPRESSION must be zstd, gzip or auto, not ${compression}" >&2; exit 2 ;;
esac
partial="${dir}/.${stamp}.partial"
marker=/tmp/.archive-started
attempt=1
while :; do
  : > "$marker"
  sleep 1 # a flush in this second still dates after the marker
  rm -f /tmp/.tar-status
  # What to archive: every top-level entry but the filesystem's lost+found, named one by one, because BusyBox's
  # tar may be built without --exclude (Debian's is).
  set --
  for entry in "$src"/* "$src"/.[!.]* "$src"/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    [ "${entry##*/}" = lost+found ] && continue
    set -- "$@" "./${entry##*/}"
  done
  # An empty volume is an empty archive (tar refuses to create one from no names): the empty scratch dir's ".".
  from="$src"
  if [ $# -eq 0 ]; then
    from=/tmp/.empty-volume
    mkdir -p "$from"
    set -- .
  fi
  { tar -c -f - -C "$from" "$@" || echo $? > /tmp/.tar-status; } | "$compression" -c > "$partial"
  if [ -e /tmp/.tar-status ]; then
    echo "backup: tar of ${src} failed (exit $(cat /tmp/.tar-status)): no backup" >&2
    rm -f "$partial"
    exit 1
  fi
  changed="$(find "$src" -newer "$marker" ! -path "${src}/lost+found*" | head -n 3)"
  [ -z "$changed" ] && break
  if [ "$attempt" -ge "${ATTEMPTS:-3}" ]; then
    echo "backup: files changed during all ${attempt} archives (e.g. $(echo "$changed" | tr '\n' ' ')):" \
      "keeping the last, crash-consistent at best" >&2
    break
  fi
  attempt=$((attempt + 1))
done
name="${stamp}.${ext}"
mv "$partial" "${dir}/${name}"
printf '%s\n' "$name" > /tmp/last-backup
echo "backup written: ${dir}/${name} ($(wc -c < "${dir}/${name}" | tr -d ' ') bytes, ${compression}, attempt ${attempt})"
