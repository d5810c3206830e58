"""Typed settings every service shares, read from the environment once at start-up and injected.

Outside ``dev``/``test`` a service refuses to start with a default or weak secret (the
full-stack-fastapi-template rule): a misconfigured production fails fast instead of running open.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    environment: Environment = Environment.DEV
    log_level: str = "INFO"
    http_port: int = Field(default=8000, ge=1, le=65535)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_idempotent_producer: bool = Field(
        default=True,
        description=(
            "Idempotent producer (acks=all either way). Only the local Tansu broker needs false: "
            "Tansu 0.6 rejects aiokafka's InitProducerId v0 request (docs/adr/0004)."
        ),
    )
    kafka_max_attempts: int = Field(default=5, ge=1, le=50)
    kafka_retry_base_delay_ms: int = Field(default=200, ge=0)
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP endpoint; tracing export is off when unset."
    )

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PROD


def require_strong_secret(name: str, value: str, environment: Environment) -> str:
    """Refuse an empty, short or well-known secret outside dev/test."""
    weak = {"", "changeme", "secret", "dev", "development"}
    if environment is Environment.PROD and (value.lower() in weak or len(value) < 32):
        raise ValueError(f"{name} must be set to a strong secret (>= 32 chars) in production")
    return value
