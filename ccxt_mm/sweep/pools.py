"""Where a sweep's tasks run: a local process pool over the machine's cores, or the workers of
a Dask cluster. Both run :func:`~ccxt_mm.sweep.trial.run_task`; a task whose worker died or
that raised is run again up to its retries, then reported failed with why: never lost."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from ccxt_mm.errors import CcxtMmError
from ccxt_mm.sweep.trial import run_task

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


class LocalPool:
    """``workers`` processes of this machine (spawned: no thread of ours is forked)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._executor = self._start()

    def _start(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def run(self, tasks: list[Task], retries: int, on_done: Callable[[Outcome], None]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(tasks)
        tries = [0] * len(tasks)
        pending = {self._executor.submit(run_task, t): i for i, t in enumerate(tasks)}
        while pending:
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            again: list[int] = []
            for future in done:
                i = pending.pop(future)
                error = future.exception()
                if error is None:
                    outcomes[i] = future.result()
                elif tries[i] < retries:
                    tries[i] += 1
                    again.append(i)
                    continue
                else:
                    outcomes[i] = _failed(tasks[i], error)
                on_done(outcomes[i])  # type: ignore[arg-type]
            if again and any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                again += list(pending.values())  # a dead worker breaks the pool: start a new one, run again what was in it
                pending.clear()
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._start()
            pending.update({self._executor.submit(run_task, tasks[i]): i for i in again})
        return outcomes  # type: ignore[return-value]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class DaskPool:
    """The workers of the Dask scheduler at ``address`` (``tcp://host:port``). A worker that
    dies has its tasks run elsewhere by the scheduler; a task that raised is submitted again."""

    def __init__(self, address: str, files: list[str]) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise CcxtMmError("--cluster needs Dask's distributed package: pip install distributed") from exc
        try:
            self._client = Client(address, timeout="10s")
        except OSError as exc:
            raise CcxtMmError(f"--cluster {address}: cannot reach a Dask scheduler there ({exc})") from exc
        self.workers = sum(w.get("nthreads", 1) for w in self._client.scheduler_info()["workers"].values())
        if self.workers == 0:
            self._client.close()
            raise CcxtMmError(f"--cluster {address}: the scheduler has no workers")
        self._check_files(files)

    def _check_files(self, files: list[str]) -> None:
        """Every worker sees every recording file (they are read from a shared path)."""
        seen = self._client.run(_missing, files)
        lost = {worker: missing for worker, missing in seen.items() if missing}
        if lost:
            worker, missing = sorted(lost.items())[0]
            self._client.close()
            raise CcxtMmError(f"--cluster: worker {worker} cannot read {missing[0]}: give recordings on a path every worker shares")

    def run(self, tasks: list[Task], retries: int, on_done: Callable[[Outcome], None]) -> list[Outcome]:
        from distributed import wait

        outcomes: list[Outcome | None] = [None] * len(tasks)
        tries = [0] * len(tasks)
        pending = {self._submit(t): i for i, t in enumerate(tasks)}
        while pending:
            done, _ = wait(list(pending), return_when="FIRST_COMPLETED")
            for future in done:
                i = pending.pop(future)
                if future.status == "finished":
                    outcomes[i] = future.result()
                elif tries[i] < retries:
                    tries[i] += 1
                    pending[self._submit(tasks[i])] = i
                    continue
                else:
                    outcomes[i] = _failed(tasks[i], future.exception())
                on_done(outcomes[i])  # type: ignore[arg-type]
        return outcomes  # type: ignore[return-value]

    def _submit(self, task: Task) -> Any:
        return self._client.submit(run_task, task, pure=False)

    def close(self) -> None:
        self._client.close()


def _missing(files: list[str]) -> list[str]:
    """The files of ``files`` this worker cannot see (run on each worker)."""
    return [f for f in files if not os.path.exists(f)]
