"""What never reaches the logs: an OAuth callback's code and state in the access log, and the
token traffic oauthlib logs at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from calsync_platform.logs import configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level
    for name in ("oauthlib", "requests_oauthlib"):
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.mark.usefixtures("restored_logging")
def test_secrets_in_queries_and_oauth_debug_lines_stay_out_of_the_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("test", "DEBUG")
    access = logging.getLogger("uvicorn.access")
    access.info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5",
        "GET",
        "/oauth/callback?state=SEALED-STATE&code=4/SECRET-CODE&scope=calendar",
        "1.1",
        303,
    )
    logging.getLogger("requests_oauthlib.oauth2_session").debug("Token: 1//REFRESH-TOKEN")
    logging.getLogger("crm_api").debug("an ordinary line")
    out = capsys.readouterr().out
    assert "/oauth/callback?state=redacted&code=redacted&scope=calendar" in out
    assert "SECRET-CODE" not in out
    assert "SEALED-STATE" not in out
    assert "REFRESH-TOKEN" not in out
    assert "an ordinary line" in out
