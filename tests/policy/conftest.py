"""The policy pack's modules import each other as top-level modules (`import rules`), as they do when
Pulumi runs the pack from its own directory; the tests import them the same way."""

from __future__ import annotations

import sys

from tooling.paths import REPO_ROOT

POLICY_DIR = REPO_ROOT / "policy"
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))
