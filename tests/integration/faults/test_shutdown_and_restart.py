"""`ccxt-mm run --live` as a process against the three emulated exchanges: SIGINT and SIGTERM
leave no order behind within 2 s; after SIGKILL the next run finds the killed run's orders by
client-id prefix and cancels them before it quotes, and restores the state the killed run
kept (today's loss, drawdown, fills seen)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.exchanges.conftest import API_KEY, SECRET
from tests.integration.exchanges.test_run_cli import emulators, write_config  # noqa: F401  (fixture)
from tests.integration.exchanges.test_venues_emulated import PASSPHRASE

EXE = shutil.which("ccxt-mm", path=str(Path(sys.executable).parent))


def start(config: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "EMU_KEY": API_KEY, "EMU_SECRET": SECRET, "EMU_PASSPHRASE": PASSPHRASE}
    return subprocess.Popen(
        [EXE, "run", "--live", "--config", config, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def ours(started) -> dict[str, list[str]]:
    return {env.name: [o.client_id for o in ex.open_orders() if o.client_id.startswith("mm")] for env, ex, _ in started}


def wait_for_quotes(started, proc: subprocess.Popen, timeout: float = 30.0) -> dict[str, list[str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        resting = ours(started)
        if all(resting.values()):
            return resting
        time.sleep(0.1)
    raise AssertionError(f"not quoting on every exchange: {ours(started)}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_cancels_every_order_within_two_seconds(tmp_path, emulators, sig):  # noqa: F811
    started, _ = emulators
    proc = start(write_config(tmp_path, emulators))
    wait_for_quotes(started, proc)
    t0 = time.monotonic()
    proc.send_signal(sig)
    while any(ours(started).values()) and time.monotonic() - t0 < 10:
        time.sleep(0.02)
    gone = time.monotonic() - t0
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err[-2000:]
    assert ours(started) == {"binance": [], "okx": [], "bybit": []}
    assert gone < 2.0, f"orders left on the exchanges for {gone:.2f} s after {sig.name}"
    summary = json.loads(out)
    assert all(summary[f"{env.name} {env.symbol}"]["orders_left"] == 0 for env, _, _ in started)
    assert API_KEY not in out + err and SECRET not in out + err


def test_after_sigkill_the_next_run_cancels_the_killed_runs_orders_before_quoting(tmp_path, emulators):  # noqa: F811
    started, _ = emulators
    config = write_config(tmp_path, emulators)
    first = start(config)
    wait_for_quotes(started, first)
    time.sleep(0.5)  # a state write or two
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    left = ours(started)
    assert all(left.values()), "a killed process cancels nothing"
    saved = json.loads((tmp_path / "live_state.json").read_text())["markets"]
    assert sorted(saved) == sorted(f"{env.name} {env.symbol}" for env, _, _ in started)
    second = start(config, "--duration", "3")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err[-2000:]
    summary = json.loads(out)
    for env, ex, _ in started:
        s = summary[f"{env.name} {env.symbol}"]
        assert sorted(s["leftovers_cancelled"]) == sorted(left[env.name]), env.name
        assert s["orders_created"] > 0 and s["orders_left"] == 0
        assert s["restored"], "today's loss and the fills seen come back after the kill"
        killed = [o for o in ex.orders.values() if o.client_id in left[env.name]]
        assert killed and all(o.status == "canceled" for o in killed)
        # cancelled before the new run's first order reached the exchange
        first_new = min(o.created_ms for o in ex.orders.values() if o.client_id.startswith("mm") and o.client_id not in left[env.name])
        assert all(o.updated_ms <= first_new for o in killed), env.name
    assert ours(started) == {"binance": [], "okx": [], "bybit": []}
