"""Where a sweep's tasks run: a local process pool over the machine's cores, or the workers of
a Dask cluster. Both run :func:`~ccxt_mm.sweep.trial.run_task`; a task whose worker died or
that raised is run again up to its retries, then reported failed with why: never lost."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from ccxt_mm.errors import CcxtMmError
from ccxt_mm.sweep.trial import run_task

WAIT_SECS = 5.0
"""How often a cluster sweep with nothing finishing checks that the cluster still has workers."""
NO_WORKER_SECS = 120.0
"""How long a cluster may have no worker before the sweep stops with an error."""

Task = dict[str, Any]
Outcome = dict[str, Any]
"""A task's result (see :func:`run_task`), or ``{"trial", "recording", "error"}`` once its
retries are spent."""


class Pool(Protocol):
    workers: int
    """Processes that run tasks at once."""

    def run(self, tasks: list[Task], retries: int, on_done: Callable[[Outcome], None]) -> list[Outcome]:
        """Every task's outcome, in the order of ``tasks``; ``on_done`` is called as each ends."""
        ...

    def close(self) -> None: ...


def _failed(task: Task, error: BaseException) -> Outcome:
    return {"trial": task["trial"], "recording": task["recording"], "error": f"{type(error).__name__}: {error}"}


def _retryable(error: BaseException) -> bool:
    """A task that failed on its data or config fails the same way again: not retried."""
    return not isinstance(error, CcxtMmError)


class LocalPool:
    """``workers`` processes of this machine (spawned: no thread of ours is forked). At most
    one task per process is handed over at a time, so a process that dies takes with it only
    the tasks that were running, which are run again in a new pool."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.restarts = 0
        """Times a dead process broke the pool and a new one was started."""
        self._executor = self._start()

    def _start(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def run(self, tasks: list[Task], retries: int, on_done: Callable[[Outcome], None]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(tasks)
        tries = [0] * len(tasks)
        waiting = list(range(len(tasks)))[::-1]
        running: dict[cf.Future, int] = {}
        while waiting or running:
            while waiting and len(running) < self.workers:
                i = waiting.pop()
                running[self._executor.submit(run_task, tasks[i])] = i
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            broken = False
            for future in done:
                i = running.pop(future)
                error = future.exception()
                broken |= isinstance(error, BrokenProcessPool)
                if error is None:
                    outcomes[i] = future.result()
                elif tries[i] < retries and _retryable(error):
                    tries[i] += 1
                    waiting.append(i)
                    continue
                else:
                    outcomes[i] = _failed(tasks[i], error)
                on_done(outcomes[i])  # type: ignore[arg-type]
            if broken:
                self._restart(running, waiting)
        return outcomes  # type: ignore[return-value]

    def _restart(self, running: dict[cf.Future, int], waiting: list[int]) -> None:
        """A dead process broke the pool: the tasks still in it wait for a new pool (those that
        came back broken have counted a try)."""
        waiting.extend(running.values())
        running.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._start()
        self.restarts += 1

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class DaskPool:
    """The workers of the Dask scheduler at ``address`` (``tcp://host:port``). A worker that
    dies has its tasks run elsewhere by the scheduler; a task that raised is submitted again."""

    def __init__(self, address: str, files: list[str], *, wait_secs: float = WAIT_SECS, no_worker_secs: float = NO_WORKER_SECS) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise CcxtMmError("--cluster needs Dask's distributed package: pip install distributed") from exc
        try:
            self._client = Client(address, timeout="10s")
        except OSError as exc:
            raise CcxtMmError(f"--cluster {address}: cannot reach a Dask scheduler there ({exc})") from exc
        self.workers = sum(self._client.nthreads().values())
        if self.workers == 0:
            self._client.close()
            raise CcxtMmError(f"--cluster {address}: the scheduler has no workers")
        self._check_files(files)
        self._no_worker_since: float | None = None
        self._wait_secs, self._no_worker_secs = wait_secs, no_worker_secs

    def _check_files(self, files: list[str]) -> None:
        """Every worker sees every recording file (they are read from a shared path)."""
        seen = self._client.run(_missing, files)
        lost = {worker: missing for worker, missing in seen.items() if missing}
        if lost:
            worker, missing = sorted(lost.items())[0]
            self._client.close()
            raise CcxtMmError(f"--cluster: worker {worker} cannot read {missing[0]}: give recordings on a path every worker shares")

    def run(self, tasks: list[Task], retries: int, on_done: Callable[[Outcome], None]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(tasks)
        tries = [0] * len(tasks)
        pending = {self._submit(t): i for i, t in enumerate(tasks)}
        while pending:
            for future in self._wait(pending):
                i = pending.pop(future)
                error = future.exception() if future.status == "error" else None
                if future.status == "finished":
                    outcomes[i] = future.result()
                elif tries[i] < retries and (error is None or _retryable(error)):
                    tries[i] += 1
                    pending[self._submit(tasks[i])] = i
                    continue
                else:
                    outcomes[i] = _failed(tasks[i], error or CcxtMmError(f"the Dask task ended {future.status}"))
                on_done(outcomes[i])  # type: ignore[arg-type]
        return outcomes  # type: ignore[return-value]

    def _wait(self, pending: dict[Any, int]) -> list[Any]:
        """The futures of ``pending`` that ended (finished, raised or cancelled), after at
        most ``wait_secs``; checks the cluster still has workers when none ended."""
        from distributed import wait
        from distributed.client import FuturesCancelledError

        try:
            wait(list(pending), timeout=self._wait_secs, return_when="FIRST_COMPLETED")
        except TimeoutError:
            self._check_workers(len(pending))
        except FuturesCancelledError:  # a future the scheduler lost: its task is submitted again below
            pass
        return [f for f in pending if f.status != "pending"]

    def _check_workers(self, waiting: int) -> None:
        """Raise when the cluster has had no worker for ``no_worker_secs``: the tasks would
        wait for ever."""
        since = self._no_worker_since
        if self._client.nthreads():
            self._no_worker_since = None
        elif since is None:
            self._no_worker_since = time.monotonic()
        elif time.monotonic() - since > self._no_worker_secs:
            raise CcxtMmError(f"--cluster: no worker for {self._no_worker_secs:g} s with {waiting} tasks waiting: start workers, or stop")

    def _submit(self, task: Task) -> Any:
        return self._client.submit(run_task, task, pure=False)

    def close(self) -> None:
        self._client.close()


def _missing(files: list[str]) -> list[str]:
    """The files of ``files`` this worker cannot see (run on each worker)."""
    return [f for f in files if not os.path.exists(f)]
