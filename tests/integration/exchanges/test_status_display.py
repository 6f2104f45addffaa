"""What `ccxt-mm run` shows while it quotes: the status screen on a real (pseudo) terminal, plain
status lines when stdout is a pipe, each with the emulated market's figures."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from decimal import Decimal

from ccxt_mm.cli import main
from tests.integration.exchanges.test_run_cli import emulators, write_config  # noqa: F401 (a fixture)

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def mids(started) -> dict[str, Decimal]:
    """Each emulated market's mid now (its books do not move in these tests)."""
    out = {}
    for env, ex, _ in started:
        bid, ask = ex.best(env.market_id)
        out[f"{env.name} {env.symbol}"] = (bid + ask) / 2
    return out


def test_off_a_terminal_a_status_line_per_market_comes_every_status_secs(tmp_path, capsys, emulators):  # noqa: F811
    """stdout captured (a pipe, as for a service): every 0.5 s a plain line per market with its
    mid, position and orders, and a line per asset of the book they share; the summary JSON
    still ends the output."""
    started, _ = emulators
    config = write_config(tmp_path, emulators)
    assert main(["run", "--duration", "2.5", "--config", config, "--status-secs", "0.5"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("status ")]
    for market, mid in mids(started).items():
        mine = [line for line in lines if line.startswith(f"status {market} (paper): ")]
        assert len(mine) >= 3, (market, lines)
        shown = float(re.search(r" mid ([0-9.]+) ", mine[-1]).group(1))
        assert abs(shown - float(mid)) <= 0.0051 and "orders " in mine[-1] and "risk quoting" in mine[-1], mine[-1]
    book = [line for line in lines if line.startswith("status portfolio BTC: position ")]
    assert len(book) >= 3 and "over 2 markets, no limit; book in this process" in book[-1], lines
    summary = json.loads(out[out.index("\n{") + 1 :])
    assert set(mids(started)) <= set(summary)


def test_no_status_prints_nothing_but_the_summary(tmp_path, capsys, emulators):  # noqa: F811
    config = write_config(tmp_path, emulators)
    assert main(["run", "--duration", "1.5", "--config", config, "--status-secs", "0.2", "--no-status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("{") and json.loads(out)


def test_on_a_terminal_the_status_screen_shows_every_market_and_the_warnings_pane(tmp_path, emulators):  # noqa: F811
    """`ccxt-mm run` on a pseudo-terminal: the screen's table has a row per market with its mid,
    and the JSON log lines are not on it (warnings go to the pane under the table)."""
    started, _ = emulators
    config = write_config(tmp_path, emulators)
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "220", "LINES": "40", "TERM": "xterm-256color"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ccxt_mm.cli", "run", "--duration", "3", "--config", config],
        stdin=follower, stdout=follower, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=20)
    os.close(leader)
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
    screen = ANSI.sub("", seen.decode(errors="replace"))
    assert "ccxt-mm run" in screen and "position / limit" in screen
    for market, mid in mids(started).items():
        row = re.search(rf"{re.escape(market)} \(paper\)\s*│\s*([0-9.]+)", screen)
        assert row and abs(float(row.group(1)) - float(mid)) <= 0.0051, market
    assert '"level"' not in screen, "JSON log lines are kept off the screen"
