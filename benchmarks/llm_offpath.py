"""Tick → intent with the LLM predictor off, slow and failing: quoting must not notice.

Run: ``.venv/bin/python benchmarks/llm_offpath.py [--symbols 5] [--seconds 20] [--repeat 2]``.

The live engine quotes 3 emulated exchanges × N symbols (books replaying the real BTCUSDT
recording, as in ``live_loop.py``) while its predictor asks the local OpenAI-compatible
emulator about every market each second:

* off: no predictor;
* slow: every reply takes 2 s (a request is always in flight);
* failing: every reply is HTTP 500 (retried with backoff; the breaker is set not to open,
  so the client keeps calling).

Each mode runs ``--repeat`` times, interleaved; printed: tick → intent p50 / p99 per mode
(median over runs) and the ratio of each p99 to the off mode's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ccxt_mm_testkit.emulator.llm import LlmEmulator, Reply  # noqa: E402
from ccxt_mm_testkit.emulator.server import EmulatorServer  # noqa: E402
from live_loop import run_engine, serve  # noqa: E402

from ccxt_mm.config import LlmConfig  # noqa: E402
from ccxt_mm.engine.predictions import LivePredictions  # noqa: E402

MODES = {"slow": Reply(delay_secs=2.0), "failing": Reply(500, body='{"error": {"message": "server error", "type": "server_error"}}')}


def serve_llm(urls: mp.Queue) -> None:
    """Child process: one LLM emulator per mode."""

    async def main() -> None:
        out = {}
        for mode, reply in MODES.items():
            server = EmulatorServer(LlmEmulator(fallback=reply).routes())
            out[mode] = await server.start()
        urls.put(out)
        await asyncio.sleep(3600)

    asyncio.run(main())


def predictions(mode: str, llm_urls: dict[str, str]) -> LivePredictions | None:
    if mode == "off":
        return None
    cfg = LlmConfig(
        predictor="llm", base_url=f"{llm_urls[mode]}/v1", interval_secs=1.0, batch_size=5, deadline_secs=5.0, breaker_failures=10**6
    )
    return LivePredictions.llm(cfg, "sk-bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--rate", type=float, default=5.0)
    args = parser.parse_args()
    logging.getLogger("ccxt_mm").setLevel(logging.ERROR)  # the failing mode's warnings, one per request
    p50s: dict[str, list[float]] = {m: [] for m in ("off", *MODES)}
    p99s: dict[str, list[float]] = {m: [] for m in p50s}
    calls: dict[str, list[int]] = {m: [] for m in p50s}
    llm_queue: mp.Queue = mp.Queue()
    llm_child = mp.Process(target=serve_llm, args=(llm_queue,), daemon=True)
    llm_child.start()
    llm_urls = llm_queue.get(timeout=60)
    for _ in range(args.repeat):
        for mode in p50s:
            queue: mp.Queue = mp.Queue()
            child = mp.Process(target=serve, args=(args.symbols, args.rate, args.seconds + 5, queue), daemon=True)
            child.start()
            urls = queue.get(timeout=120)
            preds = predictions(mode, llm_urls)
            engine, *_ = asyncio.run(run_engine(urls, args.symbols, args.seconds, 1 / args.rate, preds))
            child.terminate()
            lat = np.concatenate([np.array(m.latency_ns, dtype=np.float64) for m in engine.markets if m.latency_ns]) / 1e3
            p50s[mode].append(float(np.percentile(lat, 50)))
            p99s[mode].append(float(np.percentile(lat, 99)))
            calls[mode].append(0 if preds is None else preds.summary()["requests"])
    llm_child.terminate()
    off = statistics.median(p99s["off"])
    print(f"markets  {args.symbols * 3} ({args.symbols} symbols x 3 exchanges), {args.seconds:.0f} s a run, {args.repeat} runs a mode")
    for mode in p50s:
        p99 = statistics.median(p99s[mode])
        print(
            f"{mode:<8} tick->intent p50 {statistics.median(p50s[mode]):6.1f} us, p99 {p99:6.1f} us "
            f"(x{p99 / off:.2f} of off); LLM requests per run {statistics.median(calls[mode]):.0f}"
        )


if __name__ == "__main__":
    main()
