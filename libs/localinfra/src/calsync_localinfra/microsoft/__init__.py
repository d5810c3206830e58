"""A stand-in for Microsoft (the identity platform's OAuth 2.0 and Graph's calendar API) as a
local process over HTTPS: Exchange Online cannot run here, and MSAL only talks HTTPS. The
certificate is made at start-up, self-signed for the loopback address; clients trust it through
``ca_file`` (a setting of the services, never of production).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from calsync_localinfra.standin_process import LocalStandIn

CLIENT_ID = "00000000-0000-4000-8000-00000000c0de"
CLIENT_SECRET = "local~client~secret"  # noqa: S105 (the stand-in's, known to tests)


class LocalMicrosoft(LocalStandIn):
    module = "calsync_localinfra.microsoft"
    name = "Microsoft stand-in"
    scheme = "https"

    def __init__(
        self,
        base_dir: Path | str,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        accounts: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        super().__init__(
            base_dir, client_id=client_id, client_secret=client_secret, accounts=accounts, port=port
        )

    @property
    def authority(self) -> str:
        return self.url + "common"

    @property
    def graph_endpoint(self) -> str:
        return self.url + "v1.0/"

    @property
    def ca_file(self) -> str:
        return str(self.base_dir / "cert.pem")

    @property
    def authorize_uri(self) -> str:
        return self.authority + "/oauth2/v2.0/authorize"

    @property
    def token_endpoint(self) -> str:
        return self.authority + "/oauth2/v2.0/token"

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts the stand-in's certificate (and nothing else)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def verify(self) -> ssl.SSLContext:
        return self.ssl_context()

    def extra_argv(self) -> list[str]:
        cert, key = self.base_dir / "cert.pem", self.base_dir / "key.pem"
        if not cert.exists():
            self_signed(cert, key, self.host, "localhost")
        return ["--cert", str(cert), "--key", str(key)]

    def expire_delta_tokens(self, calendar_id: str) -> None:
        self._post(f"_fake/calendars/{calendar_id}/expire-delta-tokens", None)


def self_signed(cert_path: Path, key_path: Path, *names: str) -> None:
    """A certificate for ``names`` (IP addresses or DNS names), signed by itself (its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "calsync Microsoft stand-in")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)
