"""The notifier's configuration, from the environment."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr

from calsync_platform.settings import ServiceSettings


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"  # RFC 3207, usually port 587
    TLS = "tls"  # implicit TLS, RFC 8314, usually port 465


class NotifierSettings(ServiceSettings):
    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/notifier",
        description="The notifier's own database: the delivery log.",
    )
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: SmtpSecurity = SmtpSecurity.NONE
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_ca_file: str = Field(
        default="", description="CA bundle to verify the SMTP server by (default: the system's)."
    )
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    smtp_retry_attempts: int = Field(
        default=4, ge=1, le=20, description="Tries per mail on temporary (4xx) failures."
    )
    smtp_retry_base_seconds: float = Field(
        default=1.0, ge=0, description="Pause before the 2nd try; doubles for each next one."
    )
    meeting_link: str = Field(
        default="",
        description="Address of a meeting in the CRM web app for {{ meeting.link }}, with "
        "{meeting_id}, e.g. https://crm.example.com/meetings/{meeting_id}.",
    )
    mail_domain: str = Field(
        default="calsync.invalid", description="Right-hand side of the Message-IDs we make."
    )
