"""Encrypts connection secrets (passwords, refresh tokens) at rest with Fernet (AES-128-CBC +
HMAC-SHA256). Plaintext exists only in memory, never in logs, events or API responses."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key)

    def seal(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def open(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as error:
            raise ValueError(
                "secret cannot be decrypted with the configured SECRETS_KEY"
            ) from error

    def open_recent(self, token: bytes, max_age_seconds: int) -> str:
        """Like ``open``, for a token sealed at most ``max_age_seconds`` ago (Fernet's own
        timestamp)."""
        try:
            return self._fernet.decrypt(token, ttl=max_age_seconds).decode()
        except InvalidToken as error:
            raise ValueError("not one of our tokens, or too old") from error

    def __repr__(self) -> str:
        return "SecretBox(<redacted>)"
