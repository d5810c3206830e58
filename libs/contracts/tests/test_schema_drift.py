"""The committed JSON Schemas are the reviewed contract: any model change must regenerate them
(`make schemas`) so the diff is seen in review."""

from pathlib import Path

from calsync_contracts.schema_export import render_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"


def test_committed_schemas_match_the_models() -> None:
    committed = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.json")}
    rendered = render_schemas()
    assert sorted(committed) == sorted(rendered), "schema files added/removed: run `make schemas`"
    drifted = [name for name, text in rendered.items() if committed[name] != text]
    assert not drifted, f"models drifted from committed schemas {drifted}: run `make schemas`"
