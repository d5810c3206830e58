"""crm-api settings, read from the environment once at start-up (``Settings()``)."""

from __future__ import annotations

from cryptography.fernet import Fernet
from pydantic import SecretStr, field_validator, model_validator

from calsync_platform.settings import ServiceSettings, require_strong_secret


class Settings(ServiceSettings):
    database_url: str
    """``postgresql+asyncpg://user@host:port/db``."""
    jwt_secret: SecretStr
    """HS256 key of the bearer tokens."""
    secrets_key: SecretStr
    """Fernet key encrypting connection secrets at rest (``Fernet.generate_key()``)."""
    jwt_ttl_hours: int = 12
    db_pool_size: int = 20
    internal_api_token: SecretStr | None = None
    """Authenticates the sync services' internal calls both ways (libs/contracts internal.py);
    the internal API answers 401 to everyone while it is unset."""
    web_root: str = ""
    """Folder of the web page (``web/`` of the repository: ``app/`` and its ``node_modules``),
    served at /app/; unset, the API serves no page."""
    public_url: str | None = None
    """This API's address as browsers and providers reach it (``https://crm.example.com``), for
    OAuth redirect addresses; unset: taken from each request."""
    sync_service_urls: dict[str, str] = {}
    """Provider → base URL of its sync service (connection tests), e.g. ``{"caldav": ...}``;
    a provider missing here is shown as "not available in this deployment yet"."""
    ssrf_allow: list[str] = []
    """The sync services' SSRF allow-list (hosts, host:port or networks), read here too: an
    Exchange Server EWS address may be plain http only for these (a development stack's
    stand-ins); every other must be https."""

    @field_validator("database_url")
    @classmethod
    def _asyncpg_url(cls, value: str) -> str:
        if value.startswith("postgresql://"):
            value = value.replace("postgresql://", "postgresql+asyncpg://", 1)
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("DATABASE_URL must be a postgresql:// or postgresql+asyncpg:// URL")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        # RFC 7518 §3.2: an HS256 key must be at least 256 bits.
        if len(value.get_secret_value().encode()) < 32:
            raise ValueError("JWT_SECRET must be at least 32 bytes (RFC 7518 §3.2)")
        return value

    @field_validator("secrets_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr) -> SecretStr:
        try:
            Fernet(value.get_secret_value())
        except ValueError as error:
            raise ValueError("SECRETS_KEY must be a Fernet key (Fernet.generate_key())") from error
        return value

    @field_validator("internal_api_token")
    @classmethod
    def _token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("INTERNAL_API_TOKEN must be at least 32 characters")
        return value

    @model_validator(mode="after")
    def _strong_secrets_in_production(self) -> Settings:
        require_strong_secret("JWT_SECRET", self.jwt_secret.get_secret_value(), self.environment)
        if self.is_production and self.internal_api_token is None:
            raise ValueError("INTERNAL_API_TOKEN must be set in production")
        return self
