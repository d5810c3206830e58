"""exchangelib's errors as the engine's (no server: the translation only)."""

from __future__ import annotations

import pytest
from exchangelib.errors import CASError, UnknownTimeZone

from calsync_contracts.internal import Credentials
from sync_core.errors import ProviderError
from sync_exchange.ews.session import Mailbox


def mailbox() -> Mailbox:
    credentials = Credentials(kind="basic", username="ann@corp.test", secret="pw")
    return Mailbox("https://ews.corp.test/EWS/Exchange.asmx", credentials)


def failing(error: Exception) -> object:
    raise error


@pytest.mark.parametrize(
    "error",
    [CASError(cas_error="the mailbox moved", response=None), UnknownTimeZone("Customized")],
)
async def test_no_exchangelib_error_leaves_as_itself(error: Exception) -> None:
    """The pass reports a ProviderError (the connection's state); an exchangelib error that is
    no TransportError (a CAS proxy's X-CasErrorCode, …) escaped and crashed the pass."""
    with pytest.raises(ProviderError):
        await mailbox().run(lambda: failing(error))
