"""The backups in a bucket, as the backup pods left them (charts/nexus-database/files/backup-upload.sh):
`<bucket>/<prefix>/<component>/<stamp>.<ext>` and, written last, `<stamp>.<ext>.manifest.json` holding the
object's size and sha256. Only an object with a manifest whose size it has is a backup: an upload cut off
at any point (no object yet, an object without its manifest) is never listed, so never restored.

Talks to the store with rclone, the same client the pods use, configured by environment variables only
(credentials never reach an argv, a file or a log).
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field

MANIFEST_SUFFIX = ".manifest.json"
REMOTE = "BACKUPS"


class StoreError(RuntimeError):
    """The store could not be read (rclone failed); the message is rclone's, which holds no credential."""


@dataclass(frozen=True)
class Bucket:
    """One destination (a `dataTier.backup.bucket` or `.offsite`), with its credentials."""

    endpoint: str
    bucket: str
    prefix: str
    region: str
    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)

    def env(self) -> dict[str, str]:
        """rclone's remote `BACKUPS:` for this bucket, as the pods configure theirs (_backup.tpl)."""
        remote = f"RCLONE_CONFIG_{REMOTE}_"
        return {
            f"{remote}TYPE": "s3",
            f"{remote}PROVIDER": "Other",
            f"{remote}ENDPOINT": self.endpoint,
            f"{remote}REGION": self.region,
            f"{remote}FORCE_PATH_STYLE": "true",
            f"{remote}ACCESS_KEY_ID": self.access_key_id,
            f"{remote}SECRET_ACCESS_KEY": self.secret_access_key,
        }

    def path(self, component: str) -> str:
        return f"{REMOTE}:{self.bucket}/{self.prefix}/{component}"


@dataclass(frozen=True)
class Backup:
    component: str
    object: str
    size: int
    sha256: str
    created: datetime.datetime

    @property
    def date(self) -> str:
        return self.created.strftime("%Y-%m-%d")


def rclone(bucket: Bucket, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300) -> str:
    binary = shutil.which("rclone")
    if binary is None:
        raise StoreError("rclone not found: install it (Debian: apt-get install rclone)")
    result = subprocess.run(
        [binary, "--config", "/dev/null", *args],
        env={"PATH": "/usr/bin:/bin", **bucket.env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise StoreError(f"rclone {args[0]} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout


def _created(manifest: Mapping[str, object], name: str) -> datetime.datetime:
    stamp = name.split(".", 1)[0]
    try:
        return datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return datetime.datetime.fromisoformat(str(manifest["created"]).replace("Z", "+00:00"))


def list_backups(bucket: Bucket, component: str) -> list[Backup]:
    """The component's complete backups, oldest first."""
    try:
        entries = json.loads(rclone(bucket, "lsjson", "--files-only", bucket.path(component)) or "[]")
    except StoreError as error:
        if "directory not found" in str(error):  # nothing was ever uploaded for the component
            return []
        raise
    sizes = {entry["Name"]: int(entry["Size"]) for entry in entries}
    backups = []
    for name in sorted(sizes):
        if not name.endswith(MANIFEST_SUFFIX):
            continue
        obj = name.removesuffix(MANIFEST_SUFFIX)
        try:
            manifest = json.loads(rclone(bucket, "cat", f"{bucket.path(component)}/{name}"))
            size, sha256 = int(manifest["size"]), str(manifest["sha256"])
        except (ValueError, KeyError, TypeError):
            continue  # an unreadable manifest vouches for nothing
        if sizes.get(obj) != size:
            continue  # the object is missing, or not the one the manifest describes
        backups.append(Backup(component, obj, size, sha256, _created(manifest, obj)))
    return sorted(backups, key=lambda b: b.created)


def pick(backups: list[Backup], date: str | None) -> Backup:
    """The newest backup of `date` (YYYY-MM-DD, UTC), or the newest of all when no date is given."""
    chosen = [b for b in backups if date is None or b.date == date]
    if not chosen:
        have = ", ".join(sorted({b.date for b in backups})) or "none"
        raise LookupError(f"no complete backup of {date or 'any date'} (backup dates: {have})")
    return chosen[-1]
