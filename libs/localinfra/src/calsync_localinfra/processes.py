"""Child processes: start them, show their output, stop them in order, notice when one dies.

Why children run in their own session: a Ctrl-C in a terminal signals the whole foreground
process group. If the servers and services shared ours, PostgreSQL and the broker would shut down
at the same moment as the services that still use them. In their own sessions only this process
hears the signal, and it stops the services first, then the broker, then the database.

Why a parent-death signal (Linux): if this process is killed outright (SIGKILL, OOM killer), its
children would otherwise live on as orphans holding ports and memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, TextIO

from calsync_localinfra.ports import wait_for_port

_log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_TAIL_LINES = 40
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True, slots=True)
class RunAs:
    """An account to run a child as (PostgreSQL refuses to run as root)."""

    uid: int
    gid: int


def _parent_death_hook(sig: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to send ``sig`` to the child when we die.

    Linux only. Only from the main thread: the kernel sends the signal when the *thread* that
    forked exits, and a worker thread may exit long before the process does.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # we died between fork and prctl: no signal would come
            os.kill(os.getpid(), sig)

    return hook


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    output: IO[bytes] | int | None = None,
    run_as: RunAs | None = None,
    parent_death_signal: int | None = signal.SIGTERM,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session (see the module docstring), stdin from /dev/null,
    stderr merged into ``output`` (a file, ``subprocess.PIPE`` or ``None`` for ours)."""
    hook = _parent_death_hook(parent_death_signal) if parent_death_signal is not None else None
    return subprocess.Popen(  # noqa: S603 - argv is built by our own code, no shell involved
        list(argv),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=hook,  # only sets the parent-death signal (see _parent_death_hook)
        user=run_as.uid if run_as else None,
        group=run_as.gid if run_as else None,
        extra_groups=[] if run_as else None,
    )


def _send(process: subprocess.Popen[bytes], sig: int, *, group: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(process.pid, sig)  # the child leads its own group (new session)
        else:
            process.send_signal(sig)


def stop_process(
    process: subprocess.Popen[bytes],
    *,
    grace: float = 10.0,
    first_signal: int | None = signal.SIGTERM,
    group: bool = True,
    force: threading.Event | None = None,
) -> int:
    """Send ``first_signal``, wait up to ``grace`` seconds, then SIGKILL the process group.

    ``group`` also signals the child's own children (a server's workers); PostgreSQL wants
    ``group=False`` because its backends treat SIGINT as "cancel query". ``first_signal=None``
    when the caller already signalled it (uvicorn takes a second SIGTERM as "exit now").
    ``force`` cuts the grace period short (a second Ctrl-C). Returns the exit code.
    """
    if process.poll() is not None:
        return process.returncode
    if first_signal is not None:
        _send(process, first_signal, group=group)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and not (force is not None and force.is_set()):
        with contextlib.suppress(subprocess.TimeoutExpired):
            return process.wait(0.1)
    _log.warning("pid %s did not stop within %ss; killing it", process.pid, grace)
    _send(process, signal.SIGKILL, group=True)
    return process.wait()


class StopRequested(BaseException):
    """Raised in the main thread by the first SIGINT/SIGTERM/SIGHUP after
    ``Supervisor.install_signal_handlers``; a BaseException so ``except Exception`` in the
    middle of start-up cannot swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """What to run. ``log_path`` ``None`` streams the output to the console, each line prefixed
    with ``name``; otherwise it is appended to that file."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    log_path: Path | None = None


@dataclass(eq=False)
class Child:
    """A started child and the last lines it printed (for the report when it dies)."""

    spec: ChildSpec
    process: subprocess.Popen[bytes]
    _tail: deque[str] = field(init=False, default_factory=lambda: deque(maxlen=_TAIL_LINES))
    _pump: threading.Thread | None = field(init=False, default=None)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def tail(self) -> list[str]:
        """The last lines of output (from memory when streamed, from the file when logged)."""
        if self.spec.log_path is None:
            return list(self._tail)
        try:
            with self.spec.log_path.open("rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - 64 * 1024))
                text = log.read().decode(errors="replace")
        except OSError:
            return []
        return text.splitlines()[-_TAIL_LINES:]


_COLORS = ("36", "33", "35", "32", "34", "91", "96", "93")


class Supervisor:
    """Runs named children until a stop signal or until one of them dies.

    Usage::

        with Supervisor() as sup:
            sup.install_signal_handlers()
            sup.start(ChildSpec("api", [sys.executable, "-m", "crm_api"], env=env))
            try:
                dead = sup.watch()  # returns only if a child exited
            except StopRequested:
                ...
        # leaving the block stops every child: SIGTERM, grace period, SIGKILL
    """

    def __init__(
        self, *, grace: float = 10.0, console: TextIO | None = None, color: bool | None = None
    ) -> None:
        self.grace = grace
        self._console = console or sys.stdout
        self._color = self._console.isatty() if color is None else color
        self._children: list[Child] = []
        self._write_lock = threading.Lock()
        self._stopping = False
        self._stop_requested = False
        self._force = threading.Event()

    @property
    def children(self) -> tuple[Child, ...]:
        return tuple(self._children)

    def print(self, message: str) -> None:
        """Write a line to the console without interleaving with the children's output."""
        with self._write_lock:
            self._console.write(message + "\n")
            self._console.flush()

    def start(self, spec: ChildSpec) -> Child:
        """Start a child; its output goes to the console (prefixed) or to ``spec.log_path``."""
        if spec.log_path is not None:
            spec.log_path.parent.mkdir(parents=True, exist_ok=True)
            with spec.log_path.open("ab") as log:
                process = spawn(spec.argv, env=spec.env, cwd=spec.cwd, output=log)
        else:
            process = spawn(spec.argv, env=spec.env, cwd=spec.cwd, output=subprocess.PIPE)
        child = Child(spec, process)
        self._children.append(child)
        if process.stdout is not None:
            color = _COLORS[(len(self._children) - 1) % len(_COLORS)]
            child._pump = threading.Thread(
                target=self._pump, args=(child, process.stdout, color), daemon=True
            )
            child._pump.start()
        _log.info("started %s (pid %s): %s", spec.name, process.pid, " ".join(spec.argv))
        return child

    def _pump(self, child: Child, stream: IO[bytes], color: str) -> None:
        prefix = f"{child.name:<14} | "
        if self._color:
            prefix = f"\033[{color}m{prefix}\033[0m"
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\r\n")
            child._tail.append(line)
            self.print(prefix + line)
        stream.close()

    def exited(self) -> Child | None:
        """The first child that has exited, or ``None`` while all run."""
        return next((c for c in self._children if c.returncode is not None), None)

    def watch(self, poll: float = 0.2) -> Child:
        """Block until a child exits and return it (stop signals arrive as ``StopRequested``)."""
        while True:
            dead = self.exited()
            if dead is not None:
                if dead._pump is not None:
                    dead._pump.join(timeout=2)  # let its last words reach the console
                return dead
            time.sleep(poll)

    def install_signal_handlers(self) -> None:
        """First SIGINT/SIGTERM/SIGHUP raises ``StopRequested`` in the main thread; any later one
        makes a running ``stop_all`` kill at once instead of waiting out the grace period."""

        def handler(signum: int, frame: FrameType | None) -> None:
            if self._stopping or self._stop_requested:
                self._force.set()
                return
            self._stop_requested = True
            raise StopRequested(signum)

        for sig in _STOP_SIGNALS:
            signal.signal(sig, handler)

    def stop_all(self) -> dict[str, int]:
        """Stop every child: SIGTERM to all, one shared grace period, then SIGKILL. Returns the
        exit codes by name."""
        self._stopping = True
        running = [c for c in self._children if c.returncode is None]
        for child in running:
            _send(child.process, signal.SIGTERM, group=True)
        deadline = time.monotonic() + self.grace
        codes: dict[str, int] = {}
        for child in reversed(self._children):
            remaining = max(0.0, deadline - time.monotonic())
            codes[child.name] = stop_process(
                child.process, grace=remaining, first_signal=None, force=self._force
            )
            if child._pump is not None:
                child._pump.join(timeout=2)
        return codes

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()


def start_server(
    name: str, argv: Sequence[str], log_path: Path, host: str, port: int, timeout: float
) -> subprocess.Popen[bytes]:
    """Start a server process logging to ``log_path`` and wait until it listens on
    ``host:port``; a server that dies or stays silent is stopped and reported by name."""
    with log_path.open("ab") as log:
        process = spawn(argv, output=log)
    try:
        wait_for_port(host, port, timeout, process=process)
    except (RuntimeError, TimeoutError):
        stop_process(process, grace=2)
        raise RuntimeError(f"{name} did not start; see {log_path}") from None
    return process
