"""The OAuth 2.0 side of a provider stand-in (Google, Microsoft): a consent page, the
authorization code grant with PKCE and refresh tokens (RFC 6749 §4.1, §6; RFC 7636), revocation,
and bearer tokens for the provider's API. Each stand-in mounts it at its provider's paths."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote_plus, urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

ACCESS_TOKEN_SECONDS = 3599
CODE_SECONDS = 600


class OAuthError(Exception):
    """An error of the token endpoint (RFC 6749 §5.2): ``{"error", "error_description"}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@dataclass
class Grant:
    email: str
    client_id: str


@dataclass
class PendingCode:
    grant: Grant
    redirect_uri: str
    challenge: str | None
    expires: float


@dataclass(frozen=True)
class TokenStyle:
    """How a provider's tokens look and what its token answers carry."""

    scope: str
    access_prefix: str
    refresh_prefix: str
    code_prefix: str
    extra: tuple[tuple[str, Any], ...] = ()


class OAuthAuthority:
    def __init__(self, client_id: str, client_secret: str, style: TokenStyle) -> None:
        self.client_id, self.client_secret, self.style = client_id, client_secret, style
        self.lock = threading.RLock()
        self.accounts: set[str] = set()
        self.codes: dict[str, PendingCode] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, tuple[str, float]] = {}
        self.token_failures = 0
        self.requests = 0

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self.lock:
            yield

    def issue_code(
        self, email: str, client_id: str, redirect_uri: str, challenge: str | None
    ) -> str:
        with self.lock:
            code = self.style.code_prefix + secrets.token_urlsafe(24)
            expires = time.monotonic() + CODE_SECONDS
            self.codes[code] = PendingCode(
                Grant(email, client_id), redirect_uri, challenge, expires
            )
            return code

    def exchange_code(
        self, code: str, client_id: str, secret: str, redirect_uri: str, verifier: str | None
    ) -> dict[str, Any]:
        with self.lock:
            self._check_client(client_id, secret)
            pending = self.codes.pop(code, None)
            if pending is None or pending.expires < time.monotonic():
                raise OAuthError("invalid_grant", "Malformed auth code.")
            if pending.redirect_uri != redirect_uri:
                raise OAuthError("redirect_uri_mismatch", "Bad Request")
            if pending.challenge is not None and s256(verifier or "") != pending.challenge:
                raise OAuthError("invalid_grant", "Invalid code verifier.")
            refresh = self.style.refresh_prefix + secrets.token_urlsafe(32)
            self.refresh_tokens[refresh] = pending.grant
            return {**self._access(pending.grant.email), "refresh_token": refresh}

    def refresh(self, refresh_token: str, client_id: str, secret: str) -> dict[str, Any]:
        with self.lock:
            self._check_client(client_id, secret)
            grant = self.refresh_tokens.get(refresh_token)
            if grant is None or grant.client_id != client_id:
                raise OAuthError("invalid_grant", "Token has been expired or revoked.")
            return self._access(grant.email)

    def revoke(self, token: str) -> None:
        """Revoking a refresh token ends its access tokens too."""
        with self.lock:
            grant = self.refresh_tokens.pop(token, None)
            if grant is None:
                self.access_tokens.pop(token, None)
                return
            for access, (email, _) in list(self.access_tokens.items()):
                if email == grant.email:
                    del self.access_tokens[access]

    def revoke_all(self, email: str) -> None:
        """The user removed the app's access in their account."""
        with self.lock:
            for refresh, grant in list(self.refresh_tokens.items()):
                if grant.email == email:
                    self.revoke(refresh)

    def bearer(self, authorization: str | None) -> str | None:
        """The account a valid bearer token acts for; None for a missing or dead token."""
        with self.lock:
            self.requests += 1
            token = (authorization or "").removeprefix("Bearer ").strip()
            found = self.access_tokens.get(token)
            if found is None or found[1] < time.monotonic():
                return None
            return found[0]

    def _access(self, email: str) -> dict[str, Any]:
        token = self.style.access_prefix + secrets.token_urlsafe(32)
        self.access_tokens[token] = (email, time.monotonic() + ACCESS_TOKEN_SECONDS)
        return {
            "access_token": token,
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": self.style.scope,
            "token_type": "Bearer",
            **dict(self.style.extra),
        }

    def _check_client(self, client_id: str, secret: str) -> None:
        if client_id != self.client_id or not secrets.compare_digest(secret, self.client_secret):
            raise OAuthError("invalid_client", "The OAuth client was not found.", 401)


def s256(verifier: str) -> str:
    """PKCE S256 (RFC 7636 §4.2): BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def add_oauth_routes(
    app: FastAPI, authority: OAuthAuthority, authorize_path: str, token_path: str, title: str
) -> None:
    """The consent page (GET shows it, POST answers it) and the token endpoint."""

    @app.exception_handler(OAuthError)
    async def oauth_error(request: Request, error: OAuthError) -> JSONResponse:
        body = {"error": error.error, "error_description": error.description}
        return JSONResponse(body, status_code=error.status)

    @app.get(authorize_path, response_class=HTMLResponse)
    async def consent(request: Request) -> HTMLResponse:
        query = dict(request.query_params)
        if query.get("client_id") != authority.client_id:
            return HTMLResponse("<h1>Error 401: invalid_client</h1>", status_code=401)
        if query.get("response_type") != "code" or not query.get("redirect_uri"):
            return HTMLResponse("<h1>Error 400: invalid_request</h1>", status_code=400)
        return HTMLResponse(_consent_page(query, sorted(authority.accounts), title))

    @app.post(authorize_path)
    async def approve(
        redirect_uri: Annotated[str, Form()],
        client_id: Annotated[str, Form()],
        decision: Annotated[str, Form()],
        email: Annotated[str, Form()] = "",
        state_param: Annotated[str, Form(alias="state")] = "",
        code_challenge: Annotated[str, Form()] = "",
    ) -> RedirectResponse:
        answer: dict[str, str] = {"state": state_param} if state_param else {}
        if decision != "allow" or email not in authority.accounts:
            answer["error"] = "access_denied"
        else:
            challenge = code_challenge or None
            answer["code"] = authority.issue_code(email, client_id, redirect_uri, challenge)
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + separator + urlencode(answer), status_code=302)

    @app.post(token_path)
    async def token(request: Request) -> dict[str, Any]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        with authority.locked():
            if authority.token_failures > 0:
                authority.token_failures -= 1
                raise OAuthError("temporarily_unavailable", "Service unavailable.", 503)
        client_id, secret = _client_credentials(request.headers.get("authorization"), form)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return authority.exchange_code(
                form.get("code", ""),
                client_id,
                secret,
                form.get("redirect_uri", ""),
                form.get("code_verifier"),
            )
        if grant == "refresh_token":
            return authority.refresh(form.get("refresh_token", ""), client_id, secret)
        raise OAuthError("unsupported_grant_type", "Invalid grant_type.")


def _client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    """RFC 6749 §2.3.1: HTTP Basic (each part form-urlencoded) or the request body."""
    if authorization and authorization.startswith("Basic "):
        try:
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            return unquote_plus(client_id), unquote_plus(secret)
        except ValueError:
            return "", ""
    return form.get("client_id", ""), form.get("client_secret", "")


def _consent_page(query: dict[str, str], accounts: list[str], title: str) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in query.items()
        if k in ("redirect_uri", "client_id", "state", "code_challenge")
    )
    options = "".join(
        f'<option value="{html.escape(a)}">{html.escape(a)}</option>' for a in accounts
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        "<main><h1>Choose an account</h1><p>to continue to the CRM calendar sync.</p>"
        f"<form method='post'>{hidden}"
        f"<label>Account <select name='email'>{options}</select></label>"
        "<p>The CRM calendar sync wants to see, edit, share and delete all the calendars "
        "you can access.</p>"
        "<button name='decision' value='deny'>Cancel</button> "
        "<button name='decision' value='allow'>Allow</button>"
        "</form></main></body></html>"
    )
