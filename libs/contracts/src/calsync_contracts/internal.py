"""The internal HTTP API between crm-api and the sync services (never on the bus, never public).

Secrets travel only here, over an authenticated internal call (``Authorization: Bearer`` with the
deployment's ``INTERNAL_API_TOKEN``), and are decrypted only in memory:

- ``POST {sync service}/internal/probe``: crm-api asks a sync service to test a connection before
  saving it (``ProbeRequest`` → ``ProbeResult``);
- ``GET {crm-api}/internal/connections/{id}/credentials``: a sync service fetches the credentials
  of a connection it syncs (→ ``Credentials``);
- ``GET {crm-api}/internal/connections/{id}/meetings?start=&end=``: a sync service reads the
  CRM's meetings of the connection's user in the sync window for a full sync
  (→ ``list[MeetingSnapshot]``);
- ``POST {sync service}/internal/oauth/start`` and ``/internal/oauth/finish``: for providers
  connected by OAuth 2.0 (Google), crm-api asks the sync service, which holds the OAuth client's
  secret, for the consent page's address, then to exchange the code the browser brought back
  for a refresh token (RFC 6749 §4.1, with PKCE, RFC 7636). crm-api makes the PKCE verifier
  and keeps it, sealed with its own key, in the ``state`` that comes back with the code.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr

from calsync_contracts.envelope import Frozen


class AuthKind(StrEnum):
    BASIC = "basic"
    DIGEST = "digest"
    BEARER = "bearer"
    """OAuth2 access token (RFC 6750)."""
    OAUTH_REFRESH = "oauth_refresh"
    """OAuth2 refresh token (RFC 6749 §6): the sync service gets access tokens with it."""


class Credentials(Frozen):
    kind: AuthKind
    username: str = ""
    secret: SecretStr = Field(description="Password or bearer token; SecretStr hides it in logs.")
    mailbox: str = Field(
        default="",
        max_length=320,
        description="Exchange Server: the mailbox whose calendar is synced (its SMTP address).",
    )
    impersonate: bool = Field(
        default=False,
        description=(
            "Exchange Server: ``username`` is a service account acting for ``mailbox`` by "
            "Exchange impersonation (the ApplicationImpersonation role), not the mailbox's owner."
        ),
    )


class ProbeRequest(Frozen):
    server_url: str = Field(max_length=2048)
    credentials: Credentials


class ProbeVerdict(StrEnum):
    """The connection test's answer, worded for a user by ``ProbeResult.message``."""

    OK = "ok"
    NO_SYNC_TOKEN = "no_sync_token"  # noqa: S105 (a verdict, not a secret)
    """Works, in the slower ETag-comparison mode (RFC 6578 sync-collection unsupported/broken)."""
    UNREACHABLE = "unreachable"
    FORBIDDEN_ADDRESS = "forbidden_address"
    """Loopback / private / link-local address not on the allow-list (SSRF guard)."""
    NOT_CALDAV = "not_caldav"
    WRONG_CREDENTIALS = "wrong_credentials"
    NO_CALENDAR = "no_calendar"


class CalendarInfo(Frozen):
    id: str = Field(description="Calendar id: the collection URL for CalDAV.")
    name: str
    color: str | None = None
    supports_sync_token: bool = False


class ProbeResult(Frozen):
    verdict: ProbeVerdict
    message: str
    calendars: list[CalendarInfo] = Field(default_factory=list)

    @property
    def usable(self) -> bool:
        return self.verdict in (ProbeVerdict.OK, ProbeVerdict.NO_SYNC_TOKEN)


class OAuthStart(Frozen):
    redirect_uri: str = Field(max_length=2048, description="crm-api's callback address.")
    state: str = Field(max_length=4096, description="Opaque; comes back with the code.")
    code_verifier: SecretStr = Field(
        min_length=43, max_length=128, description="PKCE verifier (RFC 7636 §4.1), kept by crm-api."
    )


class OAuthStarted(Frozen):
    authorization_url: str


class OAuthFinish(Frozen):
    redirect_uri: str = Field(max_length=2048)
    code: SecretStr
    code_verifier: SecretStr


class OAuthFinished(Frozen):
    account: str = Field(description="The account's address (its primary calendar's id).")
    refresh_token: SecretStr
