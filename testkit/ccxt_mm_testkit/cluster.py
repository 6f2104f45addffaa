"""A real Dask cluster on 127.0.0.1: ``dask scheduler`` and ``dask worker`` processes, as a
user starts them on their machines, for the sweep's tests and benchmark."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

DASK = str(Path(sys.executable).with_name("dask"))


class LoopbackCluster:
    """A scheduler and ``workers`` single-threaded workers (no nanny: a killed worker stays
    dead, as a lost machine would), each in its own process group."""

    def __init__(self, workers: int = 2, start_timeout_secs: float = 60.0) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="ccxt-mm-dask-")
        self._file = Path(self._dir.name) / "scheduler.json"
        self._timeout = start_timeout_secs
        self.workers: list[subprocess.Popen] = []
        self.scheduler = self._spawn(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(self._file)], "scheduler"
        )
        try:
            self.address = self._wait_for_scheduler()
            for i in range(workers):
                self.add_worker(f"worker{i}")
            self.wait_for_workers(workers)
        except BaseException:
            self.close()
            raise

    def _spawn(self, argv: list[str], name: str) -> subprocess.Popen:
        log = (Path(self._dir.name) / f"{name}.log").open("w")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)

    def add_worker(self, name: str) -> None:
        argv = [DASK, "worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--name", name]
        self.workers.append(self._spawn(argv, name))

    def _wait_for_scheduler(self) -> str:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self.scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited: {self.log('scheduler')}")
            if self._file.exists():
                try:
                    return str(json.loads(self._file.read_text())["address"])
                except (ValueError, KeyError):
                    pass
            time.sleep(0.1)
        raise TimeoutError(f"dask scheduler did not start in {self._timeout} s: {self.log('scheduler')}")

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(count, timeout=self._timeout)

    def kill_worker(self, index: int) -> None:
        """SIGKILL worker ``index``: its tasks are lost mid-run."""
        os.killpg(self.workers[index].pid, signal.SIGKILL)
        self.workers[index].wait()

    def log(self, name: str) -> str:
        path = Path(self._dir.name) / f"{name}.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._dir.cleanup()

    def __enter__(self) -> LoopbackCluster:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
