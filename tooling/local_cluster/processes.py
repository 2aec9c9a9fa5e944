"""The cluster's processes: each component runs in a session (and process group) of its own, with its pid,
which is also its process group id, in `run/NAME.pid` and its output in `logs/NAME.log`.

A pid file is trusted only while that process's command line names this instance's state folder (after a
reboot it may name an unrelated process), and the same test finds strays: processes of ours that lost
their pid file.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
# Controllers that run beside the control plane against its API server; one that is down is started again by
# the next `start` without restarting the cluster.
ADD_ONS = ("cert-manager-controller",)
COMPONENT_NAMES = CONTROL_PLANE + ADD_ONS

Log = Callable[[str], None]


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def running(pid: int) -> bool:
    """The process exists and is not a zombie (reaping it if it is our child)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a group whose only members are zombies is gone for our purposes
    return any(running(pid) for pid in _group_members(pgid)) or running(pgid)


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


class Processes:
    def __init__(self, state_dir: Path, log: Log) -> None:
        self.state_dir = state_dir
        self.marker = f"{state_dir}/"
        self.run_dir = state_dir / "run"
        self.logs = state_dir / "logs"
        self.log = log
        # The processes this object launched: their liveness comes from the kernel's wait status, not from
        # /proc/PID/cmdline, which for a moment after exec may not show the new command line yet.
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def ours(self, pid: int) -> bool:
        return any(self.marker in arg for arg in cmdline(pid))

    def pid_of(self, name: str) -> int | None:
        """The recorded pid, only if that process is still this instance's component."""
        child = self.children.get(name)
        if child is not None:
            return child.pid if child.poll() is None else None
        try:
            pid = int((self.run_dir / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self.ours(pid) else None

    def alive(self, name: str) -> bool:
        child = self.children.get(name)
        if child is not None:
            return child.poll() is None
        pid = self.pid_of(name)
        return pid is not None and running(pid)

    def recorded(self) -> list[str]:
        return [name for name in COMPONENT_NAMES if (self.run_dir / f"{name}.pid").exists()]

    def launch(self, name: str, argv: Sequence[str]) -> int:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log_file = self.logs / f"{name}.log"
        if log_file.exists():
            log_file.replace(self.logs / f"{name}.log.1")
        with log_file.open("w") as out:
            out.write(f"===== {name} start {datetime.datetime.now(datetime.UTC):%Y-%m-%dT%H:%M:%SZ} =====\n")
            out.flush()
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session and process group, outliving this process
                close_fds=True,  # (the start lock stays ours)
            )
        (self.run_dir / f"{name}.pid").write_text(f"{proc.pid}\n")
        self.children[name] = proc
        return proc.pid

    def tail(self, name: str, lines: int = 25) -> str:
        try:
            return "\n".join((self.logs / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def strays(self) -> list[int]:
        """Processes of ours (a component binary whose command line names our state folder) that may have
        lost their pid file."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            args = cmdline(int(entry.name))
            ours = args and Path(args[0]).name in COMPONENT_NAMES and any(self.marker in a for a in args)
            if ours and running(int(entry.name)):
                found.append(int(entry.name))
        return found

    def stop_groups(self, names: Iterable[str], grace: float = 10.0) -> None:
        """TERM the components' process groups together, wait up to GRACE seconds, then KILL."""
        groups = []
        for name in names:
            pid = self.pid_of(name)
            if pid is not None and group_alive(pid):
                self.log(f"stopping {name} (pid {pid})")
                _signal_group(pid, signal.SIGTERM)
                groups.append(pid)
        deadline = time.monotonic() + grace
        while groups and time.monotonic() < deadline:
            groups = [g for g in groups if group_alive(g)]
            if groups:
                time.sleep(0.05)
        for pgid in groups:
            self.log(f"process group {pgid} did not exit after {grace:.0f}s; killing it")
            _signal_group(pgid, signal.SIGKILL)
            end = time.monotonic() + 5
            while group_alive(pgid) and time.monotonic() < end:
                time.sleep(0.05)
        for name in names:
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
            child = self.children.pop(name, None)
            if child is not None:
                child.poll()  # reap it

    def stop_strays(self) -> bool:
        strays = found = self.strays()
        for pid in strays:
            self.log(f"stopping leftover process {pid} ({' '.join(cmdline(pid)[:1])})")
            _signal(pid, signal.SIGTERM)
        end = time.monotonic() + 2
        while strays and time.monotonic() < end:
            strays = [p for p in strays if running(p)]
            time.sleep(0.05)
        for pid in strays:
            _signal(pid, signal.SIGKILL)
        return bool(found)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        _signal(pgid, sig)
    except PermissionError:
        _signal(pgid, sig)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def port_user(port: int) -> str:
    """Who listens on 127.0.0.1:PORT (or any address), as `pid N (name)` when /proc tells; else ''."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    if not inodes:
        return ""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    args = cmdline(int(entry.name))
                    return f"pid {entry.name} ({Path(args[0]).name if args else '?'})"
        except OSError:
            continue
    return ""


def port_free(port: int) -> bool:
    """Whether this instance can listen on 127.0.0.1:PORT (as its servers do, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True
