"""Where things are: every other module names the project's folders and files through these."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CHARTS_DIR = REPO_ROOT / "charts"
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PULUMI_ENV_SCRIPT = REPO_ROOT / "scripts" / "pulumi-env.sh"
# A stand-in for the upstream Bitnami PostgreSQL chart (its OCI registry is out of reach here), with the
# same Secret keys, object names and values contract: local runs, the test tiers and the benchmark use it.
BITNAMI_STANDIN = REPO_ROOT / "tests" / "fixtures" / "bitnami-postgresql-standin"
STACK_OUTPUTS_SCHEMA = REPO_ROOT / "docs" / "stack-outputs.schema.json"
