"""Our charts' values.schema.json, composed from one source: the fragments every chart shares and each chart's own.

    .venv/bin/python scripts/chart_schemas.py generate   # rewrite charts/<chart>/values.schema.json
    .venv/bin/python scripts/chart_schemas.py check      # exit 1 when a committed schema is not what generate writes

Sources (never packaged: each chart's .helmignore leaves out schema/):
- charts/nexus-lib/schema/fragments.json: `{name: JSON schema}` of the values the charts share (image, security
  contexts, autoscaling, networkPolicy, secretChecksums, ...), each defined once with its patterns and ranges;
- charts/<chart>/schema/own.json: the chart's schema, in which `{"$lib": "<name>"}` stands for a shared fragment.

Helm reads only the committed values.schema.json; the render tier checks it is what this script generates.
"""

from __future__ import annotations

import copy
import difflib
import json
import sys
from pathlib import Path
from typing import Any

CHARTS_DIR = Path(__file__).resolve().parent.parent / "charts"
FRAGMENTS = CHARTS_DIR / "nexus-lib" / "schema" / "fragments.json"
CHARTS = ("nexus-database", "core-pipeline", "fluxiondb", "api-gateway", "order-command-service", "order-query-service")
LIB_KEY = "$lib"


def fragments() -> dict[str, Any]:
    return json.loads(FRAGMENTS.read_text())


def resolve(node: Any, shared: dict[str, Any], where: str) -> Any:
    if isinstance(node, dict):
        if set(node) == {LIB_KEY}:
            name = node[LIB_KEY]
            if name not in shared:
                raise KeyError(f"{where}: no shared schema fragment {name!r} in {FRAGMENTS}")
            return resolve(copy.deepcopy(shared[name]), shared, f"{where}/{name}")
        return {key: resolve(value, shared, f"{where}/{key}") for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, shared, f"{where}[{index}]") for index, item in enumerate(node)]
    return node


def compose(chart: str, shared: dict[str, Any] | None = None) -> str:
    """The text of `chart`'s values.schema.json."""
    own = json.loads((CHARTS_DIR / chart / "schema" / "own.json").read_text())
    schema = resolve(own, fragments() if shared is None else shared, chart)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if argv[1:] not in (["generate"], ["check"]):
        print(__doc__, file=sys.stderr)
        return 2
    shared = fragments()
    stale = []
    for chart in CHARTS:
        target = CHARTS_DIR / chart / "values.schema.json"
        text = compose(chart, shared)
        if argv[1] == "generate":
            target.write_text(text)
        elif target.read_text() != text:
            diff = difflib.unified_diff(
                target.read_text().splitlines(), text.splitlines(), str(target), "generated", lineterm=""
            )
            print("\n".join(diff))
            stale.append(chart)
    if stale:
        print(f"stale values.schema.json: {', '.join(stale)}; run scripts/chart_schemas.py generate", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
