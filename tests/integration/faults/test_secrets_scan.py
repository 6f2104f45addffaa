"""No key, secret, passphrase, signature or Authorization value in anything the project writes:
cassettes, live-run logs and summaries, replay reports, LLM errors and warnings."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ccxt_mm_testkit.emulator.llm import LlmEmulator, Reply
from ccxt_mm_testkit.emulator.server import EmulatorServer

from ccxt_mm.config import LlmConfig
from ccxt_mm.errors import LlmError
from ccxt_mm.llm.client import ChatClient
from tests.conftest import CASSETTES, ROOT
from tests.integration.exchanges.conftest import API_KEY, SECRET
from tests.integration.exchanges.test_run_cli import emulators, write_config  # noqa: F401  (fixture)
from tests.integration.exchanges.test_venues_emulated import PASSPHRASE

LLM_KEY = "sk-scan-5f0c3e1d9a7b4c2e8d6f"
KNOWN = [API_KEY, SECRET, PASSPHRASE, LLM_KEY]
PATTERNS = {
    "bearer token": re.compile(r"Bearer\s+(?!REDACTED)\S+"),
    "openai-style key": re.compile(r"\bsk-[A-Za-z0-9-]{16,}"),
    "query signature": re.compile(r"signature=(?!REDACTED)[0-9a-fA-F]{16,}"),
    "credential header": re.compile(
        r"(?i)(x-mbx-apikey|ok-access-(key|sign|passphrase)|x-bapi-(api-key|sign)|authorization)"
        r"['\"]?\s*[:=]\s*\n?\s*-?\s*['\"]?(?!REDACTED)[A-Za-z0-9+/=]{12,}"
    ),
}


def findings(name: str, text: str) -> list[str]:
    """Every secret-looking thing in ``text``, named with where it was found."""
    out = [f"{name}: known secret {secret[:4]}…" for secret in KNOWN if secret in text]
    out += [f"{name}: {kind}: {m.group(0)[:40]}" for kind, rx in PATTERNS.items() for m in rx.finditer(text)]
    return out


def test_the_scanner_finds_what_it_must():
    leaky = f"GET /api?x=1&signature={'ab' * 32}\nAuthorization: Bearer {LLM_KEY}\nX-MBX-APIKEY: {API_KEY}\n"
    assert len(findings("sample", leaky)) >= 4
    assert findings("clean", "signature=REDACTED\nAuthorization:\n      - REDACTED\n") == []


def test_no_cassette_holds_a_secret():
    files = [p for p in CASSETTES.rglob("*") if p.suffix in (".yaml", ".json")]
    assert len(files) > 30
    problems = [f for p in files for f in findings(str(p.relative_to(ROOT)), p.read_text())]
    assert problems == []


def test_live_run_logs_and_summary_hold_no_secret(tmp_path, emulators):  # noqa: F811
    exe = shutil.which("ccxt-mm", path=str(Path(sys.executable).parent))
    env = {**os.environ, "EMU_KEY": API_KEY, "EMU_SECRET": SECRET, "EMU_PASSPHRASE": PASSPHRASE}
    proc = subprocess.run(
        [exe, "run", "--live", "--duration", "1.5", "--config", write_config(tmp_path, emulators), "--report-dir", str(tmp_path / "r")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    assert any(s.get("orders_created", 0) > 0 for s in summary.values()), "the run must have sent signed requests"
    written = {str(p.relative_to(tmp_path / "r")): p.read_text() for p in (tmp_path / "r").rglob("*") if p.suffix in (".json", ".csv")}
    assert {"run_summary.json", "summary.json", "okx-BTC-USDT/fills.csv", "okx-BTC-USDT/orders.csv"} <= set(written)
    texts = {"stdout": proc.stdout, "stderr": proc.stderr} | written
    assert [f for name, text in texts.items() for f in findings(name, text)] == []


def test_replay_report_holds_no_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("CCXT_MM_SCAN_KEY", LLM_KEY)
    config = tmp_path / "c.yaml"
    config.write_text("llm:\n  predictor: imbalance\n  api_key_env: CCXT_MM_SCAN_KEY\n")
    out = tmp_path / "report"
    exe = shutil.which("ccxt-mm", path=str(Path(sys.executable).parent))
    proc = subprocess.run(
        [exe, "replay", "--config", str(config), "--report-dir", str(out), "--predictions", str(CASSETTES / "llm/replay_btcusdt.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    texts = {"stdout": proc.stdout, "stderr": proc.stderr} | {str(p): p.read_text() for p in out.glob("*.*") if p.suffix != ".png"}
    assert [f for name, text in texts.items() for f in findings(name, text)] == []


def test_llm_errors_and_warnings_hold_no_key(caplog):
    caplog.set_level(logging.DEBUG)
    emulator = LlmEmulator([Reply(401, body='{"error": {"message": "Incorrect API key provided"}}'), Reply(500, body="{}")])

    async def main() -> list[str]:
        server = EmulatorServer(emulator.routes())
        url = await server.start()
        client = ChatClient(LlmConfig(base_url=f"{url}/v1", max_attempts=1), LLM_KEY)
        errors = []
        try:
            for _ in range(2):
                try:
                    await client.complete([{"role": "user", "content": "x"}])
                except LlmError as exc:
                    errors.append(f"{exc!s} {exc!r}")
        finally:
            await client.close()
            await server.stop()
        return errors

    errors = asyncio.run(main())
    assert len(errors) == 2 and emulator.authorizations == [f"Bearer {LLM_KEY}"] * 2
    assert findings("errors", "\n".join(errors)) + findings("log", caplog.text) == []
