"""Writes the JSON Schema of every event model to a folder: ``python -m
calsync_contracts.schema_export DIR``. The files are committed; a test fails when the models
drift from them, so every contract change is reviewed as a schema diff."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from calsync_contracts.events import ALL_EVENT_TYPES


def schema_file_name(model: type) -> str:
    fields = model.model_fields  # type: ignore[attr-defined]
    return f"{fields['type'].default}.v{fields['schema_version'].default}.json"


def render_schemas() -> dict[str, str]:
    """File name → JSON text, deterministic (sorted keys, trailing newline)."""
    return {
        schema_file_name(model): json.dumps(model.model_json_schema(), indent=2, sort_keys=True)
        + "\n"
        for model in ALL_EVENT_TYPES
    }


def main(argv: list[str]) -> int:
    target = Path(argv[1] if len(argv) > 1 else "libs/contracts/schemas")
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob("*.json"):
        stale.unlink()
    for name, text in render_schemas().items():
        (target / name).write_text(text)
    print(f"wrote {len(ALL_EVENT_TYPES)} schemas to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
