"""`make run`: the whole system on this machine, with one command; Ctrl-C stops it.

1. PostgreSQL (data kept in ``.var/postgres`` between runs) unless ``DATABASE_URL`` is set;
2. the Kafka-protocol broker (Tansu, in memory) unless ``KAFKA_BOOTSTRAP_SERVERS`` is set, and
   every topic of ``all_topic_specs()`` (created on an external broker too: auto-creation would
   get the partition counts wrong);
3. Radicale, a real CalDAV server, with a demo user and calendar (data in ``.var/radicale``),
   the stand-ins for Google (OAuth consent page and Calendar API v3), Microsoft (sign-in and
   Graph, HTTPS) and Exchange Server (EWS), each with a demo account, in memory,
   and a real SMTP server (aiosmtpd) keeping every invitation in the Maildir ``.var/smtp/mail``
   unless ``SMTP_HOST`` is set;
4. crm-api's migrations, then its demo data (``crm_api.seed`` prints the tenant, users and a
   bearer token); each sync service's and the notifier's own database and migrations;
5. every service as a child process, on ports 8000-8004 when free; waits for each ``/readyz``.

Then it runs until Ctrl-C (or SIGTERM) and stops the services, then the broker, then the
database. A service that dies on its own stops the stack with exit code 1.

Dev secrets (``JWT_SECRET``, ``SECRETS_KEY``, ``INTERNAL_API_TOKEN``, the demo CalDAV password)
are generated once into ``.var/dev-secrets.json`` so tokens and encrypted connection secrets
survive restarts.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from calsync_contracts.topics import all_topic_specs
from calsync_localinfra import (
    ChildSpec,
    LocalKafka,
    LocalPostgres,
    StopRequested,
    Supervisor,
    create_topics,
    free_port,
    preferred_or_free_port,
)
from calsync_localinfra.ews import LocalExchangeServer
from calsync_localinfra.google import LocalGoogle
from calsync_localinfra.microsoft import LocalMicrosoft
from calsync_localinfra.ports import LOCALHOST
from calsync_localinfra.radicale import LocalRadicale
from calsync_localinfra.smtp import LocalSmtp

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / ".var"
DATABASE_NAME = "calsync"
READY_TIMEOUT_S = 120.0  # a Tansu consumer-group join alone takes ~5 s per group


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    module: str
    preferred_port: int
    needs_database: bool = False
    own_database: str | None = None
    """A sync service's own database (its status table and leases), migrated by
    ``<module>.migrate``."""


SERVICES = (
    Service("crm-api", "crm_api", 8000, needs_database=True),
    Service("sync-caldav", "sync_caldav", 8001, own_database="calsync_caldav"),
    Service("sync-google", "sync_google", 8002, own_database="calsync_google"),
    Service("sync-exchange", "sync_exchange", 8003, own_database="calsync_exchange"),
    Service("notifier", "notifier", 8004, own_database="calsync_notifier"),
)
CRM_TOOLS = ("crm_api.migrate", "crm_api.seed")
ENV_HINT = ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_IDEMPOTENT_PRODUCER", "ENVIRONMENT")


class StackError(Exception):
    """A start-up step failed; the message says which and why."""


def main() -> int:
    args = parse_args()
    services = [s for s in SERVICES if s.name not in args.skip and not args.infra_only]
    missing = missing_modules(services)
    if missing:
        banner(
            "cannot start: these modules do not exist (yet?)",
            [f"python -m {m}" for m in missing] + ["", "use --skip NAME to run without one"],
        )
        return 2

    supervisor = CONSOLE
    supervisor.install_signal_handlers()
    postgres = None if os.environ.get("DATABASE_URL") else LocalPostgres(VAR / "postgres")
    kafka = None if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") else LocalKafka(VAR / "kafka")
    try:
        database_url = start_postgres(postgres)
        bootstrap = start_kafka(kafka)
        common = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "ENVIRONMENT": "dev",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
            "PYTHONUNBUFFERED": "1",  # children's lines reach the console as they are written
        }
        if kafka is not None:
            common |= kafka.env()  # our Tansu cannot do idempotent producers (ADR 4)
        secrets_ = dev_secrets(VAR / "dev-secrets.json")
        ports = allocate_ports(services, usual=not args.free_ports)
        radicale = start_radicale(secrets_)
        google = start_google()
        microsoft = start_microsoft()
        exchange = start_exchange_server(secrets_)
        smtp = start_smtp()
        common |= {"INTERNAL_API_TOKEN": secrets_["INTERNAL_API_TOKEN"]}
        crm_env = common | {
            "DATABASE_URL": database_url,
            "WEB_ROOT": str(ROOT / "web"),
            "JWT_SECRET": secrets_["JWT_SECRET"],
            "SECRETS_KEY": secrets_["SECRETS_KEY"],
            "SYNC_SERVICE_URLS": json.dumps(
                {
                    provider: f"http://127.0.0.1:{ports[f'sync-{provider}']}"
                    for provider in ("caldav", "google", "exchange")
                    if f"sync-{provider}" in ports
                }
            ),
        }
        # The local stack allow-lists its own CalDAV and Exchange servers (SSRF guard, ADR 7;
        # crm-api takes plain http for an Exchange Server only from these, ADR 13).
        # SSRF_ALLOW in the environment adds to them.
        crm_env["SSRF_ALLOW"] = json.dumps(
            json.loads(os.environ.get("SSRF_ALLOW") or "[]")
            + [
                f"{host}:{port}"
                for port in (radicale.port, exchange.port)
                for host in ("127.0.0.1", "localhost")
            ]
        )
        crm_url = f"http://127.0.0.1:{ports.get('crm-api', 8000)}"
        sync_env = common | {
            "CRM_API_URL": crm_url,
            "SSRF_ALLOW": crm_env["SSRF_ALLOW"],
            "SMTP_HOST": smtp["host"],
            "SMTP_PORT": smtp["port"],
            # The API's meeting resource stands in for the web app's page locally.
            "MEETING_LINK": f"{crm_url}/meetings/{{meeting_id}}",
            **google_env(google, ports.get("sync-google")),
            **microsoft_env(microsoft, ports.get("sync-exchange")),
        }
        for service in services:
            if service.own_database:
                url = own_database_url(postgres, database_url, service.own_database)
                run_tool(f"{service.module}.migrate", sync_env | {"DATABASE_URL": url})

        seed = ""
        if any(s.needs_database for s in services):
            run_tool("crm_api.migrate", crm_env)
            say("demo data (crm_api.seed):")
            seed = run_tool("crm_api.seed", crm_env, capture=True).rstrip()
            CONSOLE.print(seed)

        start_services(supervisor, services, ports, crm_env, sync_env, postgres, database_url)
        wait_until_ready(supervisor, ports)
        print_urls(ports, postgres, bootstrap, kafka, radicale)
        if args.state_file:
            extra = {
                "radicale": radicale_state(radicale),
                "google": {"url": google.url, "account": DEMO_GOOGLE_ACCOUNT},
                "microsoft": {
                    "url": microsoft.url,
                    "account": DEMO_MICROSOFT_ACCOUNT,
                    "ca_file": microsoft.ca_file,
                },
                "exchange_server": {
                    "ews_url": exchange.ews_url,
                    "mailbox": DEMO_EWS_MAILBOX,
                    "password": secrets_["EWS_PASSWORD"],
                },
                "smtp": smtp,
                "pids": {child.name: child.pid for child in supervisor.children},
                "ssrf_allow": sync_env["SSRF_ALLOW"],
                "sync_env": {
                    s.name: {
                        "DATABASE_URL": own_database_url(postgres, database_url, s.own_database)
                    }
                    for s in services
                    if s.own_database
                },
            }
            write_state(args.state_file, ports, bootstrap, database_url, seed, extra)
        if len(services) < len(SERVICES):
            hint = {"DATABASE_URL": database_url, **{k: common[k] for k in ENV_HINT if k in common}}
            say(
                "to run a skipped service yourself (JWT_SECRET/SECRETS_KEY: .var/dev-secrets.json):"
            )
            say("  " + " ".join(f"{k}={v}" for k, v in hint.items()) + " python -m <module>")

        dead = supervisor.watch()
        banner(
            f"{dead.name} DIED ({describe_exit(dead.returncode)}); stopping everything",
            ["its last output:", *dead.tail()[-15:]],
        )
        return 1
    except StopRequested as stop:
        say(f"{stop} received: stopping (press Ctrl-C again to kill at once)")
        return 0
    except (StackError, RuntimeError) as error:
        banner("start-up failed", str(error).splitlines())
        return 1
    finally:
        codes = supervisor.stop_all()
        if codes:
            say(
                "services stopped: "
                + ", ".join(f"{n} ({exit_status(c)})" for n, c in codes.items())
            )
        if RADICALE.running:
            RADICALE.stop()
            say("Radicale stopped")
        if GOOGLE.running:
            GOOGLE.stop()
            say("Google stand-in stopped")
        if MICROSOFT.running:
            MICROSOFT.stop()
            say("Microsoft stand-in stopped")
        if EXCHANGE_SERVER.running:
            EXCHANGE_SERVER.stop()
            say("Exchange Server stand-in stopped")
        if SMTP.port is not None and SMTP.running:
            SMTP.stop()
            say("SMTP server stopped")
        if kafka is not None and kafka.running:
            kafka.stop()
            say("broker stopped")
        if postgres is not None and postgres.running:
            postgres.stop()
            say("PostgreSQL stopped")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=[s.name for s in SERVICES],
        help="do not start this service (repeatable), e.g. to run it from an IDE",
    )
    parser.add_argument(
        "--infra-only",
        action="store_true",
        help="start PostgreSQL and the broker only (no migrations, no services)",
    )
    parser.add_argument(
        "--free-ports",
        action="store_true",
        help="give the services ports the system hands out, never the usual 8000… (the tests: "
        "two stacks starting at once must not both take a usual port that looked free)",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        help="once every service is ready, write the ports, broker, database and demo data here "
        "as JSON (for scripts and the end-to-end tests)",
    )
    return parser.parse_args()


def write_state(
    path: Path,
    ports: dict[str, int],
    bootstrap: str,
    database_url: str,
    seed: str,
    extra: dict[str, object],
) -> None:
    state = {
        "ports": ports,
        "kafka_bootstrap_servers": bootstrap,
        "database_url": database_url,
        "seed": json.loads(seed) if seed else None,
        **extra,
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2))
    temporary.replace(path)  # readers never see half a file


def missing_modules(services: list[Service]) -> list[str]:
    """Modules we would run that are not importable: better one clear message up front than a
    traceback from a child half-way through start-up."""
    wanted = [f"{s.module}.__main__" for s in services]
    wanted += [f"{s.module}.migrate" for s in services if s.own_database]
    if any(s.needs_database for s in services):
        wanted += CRM_TOOLS
    missing = []
    for module in wanted:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # the parent package itself is missing
            found = False
        if not found:
            missing.append(module.removesuffix(".__main__"))
    return missing


def start_postgres(postgres: LocalPostgres | None) -> str:
    """Start our PostgreSQL and its ``calsync`` database, or take ``DATABASE_URL`` (made an
    asyncpg URL, which is what crm-api wants)."""
    if postgres is None:
        say("using PostgreSQL from DATABASE_URL")
        url = os.environ["DATABASE_URL"]
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                url = "postgresql+asyncpg://" + url.removeprefix(prefix)
        return url
    started = time.monotonic()
    postgres.start()
    database = postgres.create_database(DATABASE_NAME, exist_ok=True)
    say(f"PostgreSQL ready on port {postgres.port} in {time.monotonic() - started:.1f}s")
    return database.async_url


def start_kafka(kafka: LocalKafka | None) -> str:
    """Start our Tansu, or take ``KAFKA_BOOTSTRAP_SERVERS``; create the topics on either."""
    if kafka is None:
        bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        say(f"using the Kafka cluster at {bootstrap}")
    else:
        bootstrap = kafka.start().bootstrap_servers
    try:
        asyncio.run(create_topics(bootstrap, all_topic_specs()))
    except Exception as error:
        raise StackError(f"could not create the topics on {bootstrap}: {error!r}") from error
    say(f"broker ready at {bootstrap} with {len(all_topic_specs())} topics")
    return bootstrap


DEV_SECRETS = (
    "JWT_SECRET",
    "SECRETS_KEY",
    "INTERNAL_API_TOKEN",
    "RADICALE_PASSWORD",
    "EWS_PASSWORD",
)


def dev_secrets(path: Path) -> dict[str, str]:
    """The dev secrets (JWT key, Fernet key, internal API token, the demo CalDAV and Exchange
    passwords), generated on the first run and then reused; one added since is generated
    without changing the others (the Fernet key still opens the secrets stored with it)."""
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if set(DEV_SECRETS) <= stored.keys():
        return stored
    from cryptography.fernet import Fernet

    fresh = {
        "JWT_SECRET": secrets.token_urlsafe(48),
        "SECRETS_KEY": Fernet.generate_key().decode(),
        "INTERNAL_API_TOKEN": secrets.token_urlsafe(48),
        "RADICALE_PASSWORD": secrets.token_urlsafe(12),
        "EWS_PASSWORD": secrets.token_urlsafe(12),
    }
    created = fresh | stored
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(created, indent=2) + "\n")
    say(f"generated development secrets in {path.relative_to(ROOT)}")
    return created


def run_tool(module: str, env: dict[str, str], *, capture: bool = False) -> str:
    """Run ``python -m module`` to completion; its stderr goes to the console."""
    say(f"running python -m {module}")
    result = subprocess.run(  # noqa: S603 - our interpreter and our module
        [sys.executable, "-m", module],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE if capture else None,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"python -m {module} failed with exit code {result.returncode}")
    return result.stdout or ""


def allocate_ports(services: list[Service], *, usual: bool = True) -> dict[str, int]:
    """Every port first: crm-api and the sync services need each other's addresses. The usual
    ports (8000…) when free and ``usual``; else ports the system hands out."""
    ports: dict[str, int] = {}
    for service in services:
        if not usual:
            ports[service.name] = free_port(LOCALHOST)
            continue
        port = preferred_or_free_port(service.preferred_port)
        if port != service.preferred_port:
            say(f"port {service.preferred_port} is busy: {service.name} gets {port}")
        ports[service.name] = port
    return ports


def start_services(
    supervisor: Supervisor,
    services: list[Service],
    ports: dict[str, int],
    crm_env: dict[str, str],
    sync_env: dict[str, str],
    postgres: LocalPostgres | None,
    database_url: str,
) -> None:
    for service in services:
        if service.needs_database:
            env = crm_env
        elif service.own_database:
            url = own_database_url(postgres, database_url, service.own_database)
            env = sync_env | {"DATABASE_URL": url}
        else:
            env = sync_env
        env = env | {"HTTP_PORT": str(ports[service.name])}
        argv = [sys.executable, "-m", service.module]
        supervisor.start(ChildSpec(service.name, argv, env=env, cwd=ROOT))


def own_database_url(postgres: LocalPostgres | None, database_url: str, name: str) -> str:
    """Our PostgreSQL: a database of the service's own. A given DATABASE_URL: the same
    database (a sync service's tables and migration history do not clash with crm-api's)."""
    if postgres is None:
        return database_url
    return postgres.create_database(name, exist_ok=True).async_url


RADICALE = LocalRadicale(VAR / "radicale")
DEMO_CALDAV_USER = "demo"


def start_radicale(secrets_: dict[str, str]) -> LocalRadicale:
    """A real CalDAV server for the demo user (data kept in ``.var/radicale``)."""
    RADICALE.start()
    RADICALE.add_user(DEMO_CALDAV_USER, secrets_["RADICALE_PASSWORD"])
    RADICALE.make_calendar(DEMO_CALDAV_USER, "calendar", "Demo calendar")
    say(f"Radicale (CalDAV) ready at {RADICALE.url}")
    return RADICALE


GOOGLE = LocalGoogle(VAR / "google", accounts=("demo@gmail.test",))
DEMO_GOOGLE_ACCOUNT = "demo@gmail.test"


def start_google() -> LocalGoogle:
    """Google cannot run here: its stand-in (OAuth consent page, Calendar API v3), with a demo
    account. Its data lives in memory: a restart starts it empty."""
    GOOGLE.start()
    say(f"Google stand-in ready at {GOOGLE.url} (account {DEMO_GOOGLE_ACCOUNT})")
    return GOOGLE


def google_env(google: LocalGoogle, sync_google_port: int | None) -> dict[str, str]:
    """sync-google's OAuth client, where Google is (the stand-in's addresses), and where the
    stand-in sends push notifications (sync-google's webhook)."""
    push = {}
    if sync_google_port is not None:
        push["GOOGLE_PUSH_URL"] = f"http://127.0.0.1:{sync_google_port}/webhooks/google"
    return push | {
        "GOOGLE_CLIENT_ID": google.client_id,
        "GOOGLE_CLIENT_SECRET": google.client_secret,
        "GOOGLE_API_ENDPOINT": google.api_endpoint,
        "GOOGLE_TOKEN_URI": google.token_uri,
        "GOOGLE_AUTH_URI": google.auth_uri,
    }


MICROSOFT = LocalMicrosoft(VAR / "microsoft", accounts=("demo@contoso.test",))
DEMO_MICROSOFT_ACCOUNT = "demo@contoso.test"


def start_microsoft() -> LocalMicrosoft:
    """Exchange Online cannot run here: the stand-in for Microsoft's sign-in and Graph (HTTPS
    with its own certificate, which the browser is asked to accept once), a demo account."""
    MICROSOFT.start()
    say(f"Microsoft stand-in ready at {MICROSOFT.url} (account {DEMO_MICROSOFT_ACCOUNT})")
    return MICROSOFT


def microsoft_env(microsoft: LocalMicrosoft, sync_exchange_port: int | None) -> dict[str, str]:
    """sync-exchange's app registration, where Microsoft is (the stand-in, trusted by its
    certificate), and where the stand-in sends change notifications (sync-exchange's webhook)."""
    push = {}
    if sync_exchange_port is not None:
        push["MICROSOFT_PUSH_URL"] = f"http://127.0.0.1:{sync_exchange_port}/webhooks/microsoft"
    return push | {
        "MICROSOFT_CLIENT_ID": microsoft.client_id,
        "MICROSOFT_CLIENT_SECRET": microsoft.client_secret,
        "MICROSOFT_AUTHORITY": microsoft.authority,
        "MICROSOFT_GRAPH_ENDPOINT": microsoft.graph_endpoint,
        "MICROSOFT_CA_FILE": microsoft.ca_file,
    }


EXCHANGE_SERVER = LocalExchangeServer(VAR / "ews")
DEMO_EWS_MAILBOX = "demo@corp.test"


def start_exchange_server(secrets_: dict[str, str]) -> LocalExchangeServer:
    """Exchange Server cannot run here: the stand-in for its EWS (SOAP, plain http on the
    loopback address), with a demo mailbox whose password is a dev secret."""
    EXCHANGE_SERVER.accounts = {DEMO_EWS_MAILBOX: secrets_["EWS_PASSWORD"]}
    EXCHANGE_SERVER.start()
    say(f"Exchange Server stand-in ready at {EXCHANGE_SERVER.ews_url} ({DEMO_EWS_MAILBOX})")
    return EXCHANGE_SERVER


SMTP = LocalSmtp(VAR / "smtp")


def start_smtp() -> dict[str, str]:
    """The SMTP server the notifier sends through: ``SMTP_HOST``/``SMTP_PORT`` when given,
    else a local one keeping mail in ``.var/smtp/mail`` (a Maildir any mail program reads)."""
    if os.environ.get("SMTP_HOST"):
        return {"host": os.environ["SMTP_HOST"], "port": os.environ.get("SMTP_PORT", "25")}
    SMTP.start()
    say(f"SMTP server ready at {SMTP.host}:{SMTP.port} (mail kept in {SMTP.base_dir / 'mail'})")
    return {"host": SMTP.host, "port": str(SMTP.port), "maildir": str(SMTP.base_dir / "mail")}


def radicale_state(radicale: LocalRadicale) -> dict[str, str]:
    return {
        "url": radicale.url,
        "calendar": f"{radicale.url}{DEMO_CALDAV_USER}/calendar/",
        "username": DEMO_CALDAV_USER,
        "password": json.loads((VAR / "dev-secrets.json").read_text())["RADICALE_PASSWORD"],
    }


def wait_until_ready(supervisor: Supervisor, ports: dict[str, int]) -> None:
    """Poll every ``/readyz`` until each answers 2xx; a child that dies meanwhile fails fast."""
    pending = dict(ports)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while pending:
        dead = supervisor.exited()
        if dead is not None:
            how = describe_exit(dead.returncode)
            last = "\n".join(dead.tail()[-15:])
            raise StackError(f"{dead.name} exited during start-up ({how}); last output:\n{last}")
        for name, port in list(pending.items()):
            if http_ok(f"http://127.0.0.1:{port}/readyz"):
                say(f"{name} is ready")
                del pending[name]
        if time.monotonic() > deadline:
            raise StackError(f"not ready after {READY_TIMEOUT_S:.0f}s: {', '.join(pending)}")
        time.sleep(0.25)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http://127.0.0.1
            # 2xx: crm-api answers 200, the FastStream services' broker ping answers 204.
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError):
        return False


def print_urls(
    ports: dict[str, int],
    postgres: LocalPostgres | None,
    bootstrap: str,
    kafka: LocalKafka | None,
    radicale: LocalRadicale,
) -> None:
    lines = []
    if "crm-api" in ports:
        lines.append(f"API docs        http://127.0.0.1:{ports['crm-api']}/docs")
        lines.append(
            f"Calendar page   http://127.0.0.1:{ports['crm-api']}/app/#token=<a token above>"
        )
    for name, port in ports.items():
        lines.append(f"{name:<15} http://127.0.0.1:{port}  (health /healthz, ready /readyz)")
    if postgres is not None:
        lines.append(
            f"PostgreSQL      {postgres.database(DATABASE_NAME).dsn}  (data .var/postgres)"
        )
    else:
        lines.append("PostgreSQL      DATABASE_URL")
    broker = "Tansu, in memory" if kafka is not None else "external"
    lines.append(f"Kafka           {bootstrap}  ({broker})")
    lines.append(
        f"CalDAV          {radicale.url}{DEMO_CALDAV_USER}/calendar/  "
        f"(user {DEMO_CALDAV_USER}, password in .var/dev-secrets.json)"
    )
    if GOOGLE.running:
        lines.append(
            f"Google stand-in {GOOGLE.url}  (sign in as {DEMO_GOOGLE_ACCOUNT}; data in memory)"
        )
    if MICROSOFT.running:
        lines.append(
            f"Microsoft       {MICROSOFT.url}  (sign in as {DEMO_MICROSOFT_ACCOUNT}; "
            "self-signed certificate; data in memory)"
        )
    if EXCHANGE_SERVER.running:
        lines.append(
            f"Exchange Server {EXCHANGE_SERVER.ews_url}  (mailbox {DEMO_EWS_MAILBOX}, password "
            "EWS_PASSWORD in .var/dev-secrets.json; data in memory)"
        )
    if SMTP.port is not None:
        lines.append(f"Mail (SMTP)     {SMTP.host}:{SMTP.port}  (mail in .var/smtp/mail)")
    lines += ["", "Ctrl-C stops everything."]
    banner("calsync is running", lines)


CONSOLE = Supervisor(grace=15.0)
"""Runs the services; also serialises our own console lines with theirs."""


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def exit_status(code: int) -> str:
    """After our stop: uvicorn re-raises the SIGTERM it handled, so -15 is a clean exit too."""
    return "clean" if code in (0, -signal.SIGTERM, -signal.SIGINT) else describe_exit(code)


def say(message: str) -> None:
    CONSOLE.print(f"{'stack':<14} | {message}")


def banner(title: str, lines: list[str]) -> None:
    rule = "=" * 78
    body = "\n".join(f"  {line}" for line in lines)
    CONSOLE.print(f"\n{rule}\n  {title}\n{rule}\n{body}\n{rule}\n")


if __name__ == "__main__":
    sys.exit(main())
