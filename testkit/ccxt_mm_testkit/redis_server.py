"""A real ``redis-server`` (Debian's package) on 127.0.0.1 for tests: started on a free port in
a folder of its own, killed and started again on the same port to play an outage."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """One server; :attr:`url` stays the same over :meth:`kill` and :meth:`start`."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (Debian's package redis-server; .ci/run installs it)")
        self.binary, self.folder, self.port = binary, folder, port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_secs: float = 10.0) -> None:
        """Start it, empty (no snapshot, no append-only file), and wait until it answers."""
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.folder), "--logfile", str(self.folder / "redis.log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_secs
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        self.kill()
        raise TimeoutError(f"redis-server on port {self.port} did not answer in {timeout_secs} s (log: {self.folder / 'redis.log'})")

    def kill(self) -> None:
        """SIGKILL: what it held is gone, as in a crash of a server without persistence."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def env(self, name: str = "CCXT_MM_REDIS_URL") -> dict[str, str]:
        """This process's environment with ``name`` set to the server's URL (for a child process)."""
        return {**os.environ, name: self.url}
