"""Where the data-plane servers are: Debian's packages at their paths, the jars under .tools/dataplane
(both put there by `bash scripts/dataplane-servers.sh install`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tooling.paths import REPO_ROOT

DATAPLANE_DIR = REPO_ROOT / ".tools" / "dataplane"
INSTALL_COMMAND = "bash scripts/dataplane-servers.sh install"
# Debian's postgresql-15 (the images run 17.6; every test says what the difference could change).
PG_BIN = Path("/usr/lib/postgresql/15/bin")
REDIS_SERVER = Path("/usr/bin/redis-server")
REDIS_CLI = Path("/usr/bin/redis-cli")
KAFKA_LIB = DATAPLANE_DIR / "kafka" / "lib"
S3PROXY_LIB = DATAPLANE_DIR / "s3proxy" / "lib"
# The Confluent images' /usr/share/java/cp-base-new: what of it our scripts use (the JMX exporter agent).
CP_BASE_NEW_LIB = DATAPLANE_DIR / "cp-base-new" / "lib"
PROMETHEUS = Path("/usr/bin/prometheus")
POSTGRES_EXPORTER = Path("/usr/bin/prometheus-postgres-exporter")
REDIS_EXPORTER = Path("/usr/bin/prometheus-redis-exporter")
# The stand-ins that pods exec (tooling/dataplane/confluent.py) run as the pods' unprivileged user, who
# cannot read the virtualenv's interpreter under /root: they use only the standard library of this one.
SYSTEM_PYTHON = Path("/usr/bin/python3")


def java() -> str:
    found = shutil.which("java")
    if not found:
        raise FileNotFoundError(f"java not found: run `{INSTALL_COMMAND}`")
    return found


def missing() -> list[str]:
    """What `scripts/dataplane-servers.sh install` has not installed yet."""
    jars = [KAFKA_LIB / ".pom.sha256", CP_BASE_NEW_LIB / ".pom.sha256"]
    required = [PG_BIN / "postgres", REDIS_SERVER, REDIS_CLI, *jars, SYSTEM_PYTHON]
    return [str(path) for path in required if not path.exists()]
