"""The committed AsyncAPI documents describe what each service consumes and emits; they must be
regenerated (`make schemas`) whenever a subscriber or publisher changes."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _exporter():
    spec = importlib.util.spec_from_file_location(
        "export_asyncapi", ROOT / "scripts" / "export_asyncapi.py"
    )
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["export_asyncapi"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_asyncapi_documents_match_the_services() -> None:
    rendered = _exporter().render_documents()
    committed = {p.name: p.read_text() for p in (ROOT / "docs" / "asyncapi").glob("*.json")}
    assert sorted(committed) == sorted(rendered), "documents added/removed: run `make schemas`"
    drifted = [name for name, text in rendered.items() if committed[name] != text]
    assert not drifted, f"AsyncAPI drifted for {drifted}: run `make schemas`"


def test_sync_services_document_their_inputs_and_outputs() -> None:
    rendered = _exporter().render_documents()
    for service in ("sync-caldav", "sync-google", "sync-exchange"):
        text = rendered[f"{service}.json"]
        assert "sync.requests.v1" in text
        assert "sync.connection-status.v1" in text
