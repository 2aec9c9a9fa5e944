#!/bin/sh
# The upload container of a backup pod (rclone's image: busybox sh): ships the dump the backup container
# just completed to each bucket in REMOTES (BUCKET, and OFFSITE for the off-site copy), then prunes each
# bucket by the same retention as the volume. The remotes are configured by the environment (_backup.tpl).
#
# The object goes first, under its final name (rclone uploads it whole, or in parts that the store
# assembles only on completion, and compares the stored MD5 with the file's); its manifest
# `<object>.manifest.json` (size, sha256) goes last. Only an object with a manifest that matches it is a
# backup (`python -m backups list`): an upload cut off at any point leaves none.
set -eu
umask 077
name="$(cat /tmp/last-backup)"
file="/backups/${TARGET}/${name}"
size="$(wc -c < "$file" | tr -d ' ')"
sha256="$(sha256sum "$file" | cut -d ' ' -f 1)"
manifest="/tmp/${name}.manifest.json"
printf '{"component": "%s", "object": "%s", "size": %s, "sha256": "%s", "created": "%s"}\n' \
  "$TARGET" "$name" "$size" "$sha256" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$manifest"
for remote in $REMOTES; do
  eval "base=\${${remote}_PATH}"
  dest="${remote}:${base}/${TARGET}"
  # --s3-no-check-bucket: the bucket is the operator's; the backup credentials need not create buckets.
  rclone copyto --s3-no-check-bucket "$file" "${dest}/${name}"
  rclone copyto --s3-no-check-bucket "$manifest" "${dest}/${name}.manifest.json"
  echo "uploaded ${remote}: ${base}/${TARGET}/${name} (${size} bytes, sha256 ${sha256})"
  if [ "${RETENTION_DAYS:-0}" -gt 0 ]; then
    # An object's age is its modification time (rclone keeps the dump's own, in the object's metadata).
    rclone delete --min-age "${RETENTION_DAYS}d" -v "${dest}/"
  fi
done
