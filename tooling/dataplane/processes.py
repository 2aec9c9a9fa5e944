"""Processes that cannot outlive the test session.

Every process starts in a new session (its own process group), so a script that forks (pg_ctl, a shell
that execs a JVM) is stopped as a whole: `Supervisor.stop_all()` signals each group, waits, and kills what is
left. An `atexit` hook does the same if pytest itself is interrupted.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class RunAs:
    """The unprivileged user pods run as (pods never run as root; initdb and postgres refuse to)."""

    uid: int
    gid: int

    @classmethod
    def named(cls, user: str) -> RunAs | None:
        """`None` when the tests already run unprivileged."""
        if os.geteuid() != 0:
            return None
        import pwd

        entry = pwd.getpwnam(user)
        return cls(entry.pw_uid, entry.pw_gid)

    def own(self, path: Path) -> None:
        os.chown(path, self.uid, self.gid)


def _user_kwargs(run_as: RunAs | None) -> dict:
    if run_as is None:
        return {}
    return {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class ServerFailed(RuntimeError):
    pass


@dataclass
class Supervisor:
    """Starts servers and one-shot programs; stops every process group it started."""

    run_as: RunAs | None = None
    servers: list[Server] = field(default_factory=list)

    def __post_init__(self) -> None:
        atexit.register(self.stop_all)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log: Path,
        stop_signal: int = signal.SIGTERM,
    ) -> Server:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            process = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **_user_kwargs(self.run_as),
            )
        server = Server(name, process, log, stop_signal)
        self.servers.append(server)
        return server

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        timeout: float = 120,
        input: str | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """A one-shot program (a Job's container, an init script); its whole group is killed on timeout."""
        process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=preexec,
            **_user_kwargs(self.run_as),
        )
        try:
            out, err = process.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            raise ServerFailed(f"{argv} timed out after {timeout}s\n{out}\n{err}") from None
        finally:
            # Anything it left in its group (a daemonised child) goes with it.
            _kill_group(process.pid, signal.SIGKILL)
        return subprocess.CompletedProcess(list(argv), process.returncode, out, err)

    def stop(self, server: Server, timeout: float = 15) -> None:
        if server.running():
            _kill_group(server.pid, server.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(timeout)
        _kill_group(server.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(5)
        if server in self.servers:
            self.servers.remove(server)

    def stop_all(self) -> None:
        for server in reversed(list(self.servers)):
            self.stop(server)


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_for(check: Callable[[], bool], *, what: str, timeout: float, server: Server | None = None) -> None:
    """Poll `check` (at most `timeout` seconds, 0.2 s apart); fail with the server's log when it never holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and not server.running():
            raise ServerFailed(
                f"{server.name} exited ({server.process.returncode}) before {what}:\n{server.log_tail()}"
            )
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.2)
    tail = f"\n{server.log_tail()}" if server is not None else ""
    raise ServerFailed(f"timed out after {timeout}s waiting for {what}{tail}")


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
