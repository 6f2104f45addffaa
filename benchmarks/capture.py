"""`ccxt-mm capture` against the loopback emulator: N symbols, the real BTCUSDT messages.

Run: ``.venv/bin/python benchmarks/capture.py [--symbols 3] [--rate 0] [--seconds 20] [--repeat 3]``.

An emulated Binance in a child process (so the capture's CPU and memory are measured alone)
lists N spot markets and streams the bundled Binance BTCUSDT recording (2024-08-08/09, 11
minutes: its REST snapshot, 6,493 depth@100ms diffs and 19,904 trades, each message as Binance
sent it: prices and sizes with 8 decimals) to every one of them, ``--rate`` messages a second
per symbol (0: as fast as it can); the REST depth snapshot is the recording's book at the last
update id sent. In this process ``ccxt-mm capture`` (websocket feeds, top 20 levels) records
them until the recording ends or ``--seconds`` pass. Printed per run: messages the emulator
sent per second, messages (books and trades) and rows the capture wrote per second, the
store's bytes per hour per symbol (its size on disk over the recording time, exchange clock,
the captured messages span), and diffs and trades sent against books and trades kept: ccxt.pro
hands over the latest book (a book whose top levels did not change is not written) and keeps
a symbol's last 1,000 trades, so a capture that falls behind keeps fewer books and loses
trades. Medians over ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ccxt_mm.cli import main as ccxt_mm  # noqa: E402
from ccxt_mm.market.events import EventLog, MsgKind  # noqa: E402
from ccxt_mm.market.store import Manifest, read_store  # noqa: E402

BASES = ["BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "LTC", "DOT", "LINK", "AVAX", "TRX", "BCH"]
SYMBOL = "%SYMBOL%"
"""Where each message names its market (replaced per market as it is sent)."""


def recorded_messages() -> tuple[EventLog, int, list[tuple[int, str]]]:
    """The bundled recording, its first snapshot's message number, and every later depth diff
    and trade as (message number, its JSON text as Binance sends it with :data:`SYMBOL` for its
    market), in the recording's order (``U`` is the previous diff's ``u`` + 1: the recording is
    gap-free)."""
    from ccxt_mm.market.capture import load_capture
    from tests.conftest import BINANCE_FILES

    log = load_capture(BINANCE_FILES, "BTC/USDT")
    first = int((log.msg_kind == MsgKind.SNAPSHOT).argmax())
    messages, last_u = [], int(log.msg_seq[first])
    for m in range(first + 1, log.messages):
        kind, a, s, b = int(log.msg_kind[m]), int(log.msg_start[m]), int(log.msg_split[m]), int(log.msg_stop[m])
        ts_ms = int(log.msg_exch_ns[m]) // 1_000_000
        if kind == MsgKind.DIFF:
            u, first_u, last_u = int(log.msg_seq[m]), last_u + 1, int(log.msg_seq[m])  # gap-free: U is the last u + 1
            event = {"e": "depthUpdate", "E": ts_ms, "s": SYMBOL, "U": first_u, "u": u, "b": levels(log, a, s), "a": levels(log, s, b)}
            messages.append((m, json.dumps(event, separators=(",", ":"))))
        elif kind == MsgKind.TRADE:
            buyer_took = s > a  # the aggressor's row is on the bid side
            price, qty = float(log.row_price[a]), float(log.row_qty[a])
            event = {"e": "trade", "E": ts_ms, "s": SYMBOL, "t": int(log.msg_seq[m]), "p": f"{price:.8f}", "q": f"{qty:.8f}", "T": ts_ms}
            messages.append((m, json.dumps({**event, "m": not buyer_took, "M": True}, separators=(",", ":"))))
    return log, first, messages


def levels(log: EventLog, start: int, stop: int) -> list[list[str]]:
    """Rows ``start:stop`` of ``log`` as Binance writes levels: ``[price, qty]``, 8 decimals."""
    return [[f"{p:.8f}", f"{q:.8f}"] for p, q in zip(log.row_price[start:stop].tolist(), log.row_qty[start:stop].tolist(), strict=True)]


def serve(n_symbols: int, rate: float, ready: mp.Queue, done: mp.Queue) -> None:
    """Child process: an emulated Binance (exchangeInfo from the emulator's dialect) whose
    websocket streams the recording to every subscribed market and whose REST depth is the
    recording's book at the last update id sent; puts its URL on ``ready``, then the messages
    it sent and the seconds it took on ``done`` when the recording ends."""
    from aiohttp import WSMsgType, web
    from ccxt_mm_testkit.emulator.binance import BinanceDialect
    from ccxt_mm_testkit.emulator.core import EmulatedExchange, EmuMarket
    from ccxt_mm_testkit.emulator.server import EmulatorServer

    from ccxt_mm.book.grid_book import GridBook

    log, first, messages = recorded_messages()

    async def main() -> None:
        ids = [f"{base}USDT" for base in BASES[:n_symbols]]
        lot = Decimal("0.00001")
        ex = EmulatedExchange({i: EmuMarket(f"{i[:-4]}/USDT", i, i[:-4], "USDT", Decimal("0.01"), lot, lot, Decimal(5)) for i in ids}, {})
        book = GridBook(log.prices)
        log.apply_message(book, first)
        subscribed: dict[tuple[str, str], set[web.WebSocketResponse]] = {}
        """(market id, ``depth`` or ``trade``) → the sockets subscribed to that stream."""
        last_u = [int(log.msg_seq[first])]
        started = asyncio.Event()

        async def depth(request: web.Request) -> web.Response:
            limit = int(request.query.get("limit", 100))
            bids, asks = book.top_bids(limit), book.top_asks(limit)
            as_text = [[[f"{p:.8f}", f"{q:.8f}"] for p, q in zip(*side, strict=True)] for side in (bids, asks)]
            return web.json_response({"lastUpdateId": last_u[0], "bids": as_text[0], "asks": as_text[1]})

        async def websocket(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    req = json.loads(msg.data)
                    for stream in req.get("params", []):
                        market_id, _, channel = stream.partition("@")
                        subscribed.setdefault((market_id.upper(), channel.partition("@")[0]), set()).add(ws)
                    await ws.send_json({"result": None, "id": req.get("id")})
                    if len(subscribed) == 2 * n_symbols:
                        started.set()
            return ws

        routes = [web.get("/stream/ws/{tail:.*}", websocket), web.get("/stream/ws", websocket), web.get("/api/v3/depth", depth)]
        server = EmulatorServer([*routes, *BinanceDialect(ex, "k", "s").routes()[:3]], ex)
        ready.put(await server.start())
        await started.wait()
        await asyncio.sleep(1.0)  # every book and trade stream subscribed, each snapshot fetched
        t0, sent = time.perf_counter(), {"depth": 0, "trade": 0}
        for i, (m, text) in enumerate(messages):
            channel = "depth" if log.msg_kind[m] == MsgKind.DIFF else "trade"
            if channel == "depth":
                log.apply_message(book, m)
                last_u[0] = int(log.msg_seq[m])
            for (market_id, stream), sockets in subscribed.items():
                if stream != channel:
                    continue
                payload = text.replace(SYMBOL, market_id)
                for ws in list(sockets):
                    try:
                        await ws.send_str(payload)
                    except ConnectionError:  # the capture stopped before the recording's end
                        sockets.discard(ws)
                        continue
                    sent[channel] += 1
            if rate > 0:
                await asyncio.sleep(max(0.0, t0 + (i + 1) / rate - time.perf_counter()))
            elif i % 20 == 0:
                await asyncio.sleep(0)  # let the REST depth answer
            if not any(subscribed.values()):
                break
        done.put((sent, time.perf_counter() - t0))
        await asyncio.sleep(3600)

    asyncio.run(main())


def one_run(n_symbols: int, rate: float, seconds: float) -> dict[str, float]:
    """One capture of ``n_symbols`` against a fresh emulator: the figures the module names."""
    spawn = mp.get_context("spawn")  # a fresh interpreter: the emulator's imports stay out of the capture
    ready: mp.Queue = spawn.Queue()
    done: mp.Queue = spawn.Queue()
    child = spawn.Process(target=serve, args=(n_symbols, rate, ready, done), daemon=True)
    child.start()
    try:
        url = ready.get(timeout=120)
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "capture.yaml"
            live = {"websocket": True, "rest_urls": {"binance": url}, "ws_urls": {"binance": url.replace("http", "ws")}}
            config.write_text(yaml.safe_dump({"live": live}))
            store = Path(tmp) / "store"
            symbols = ",".join(f"{base}/USDT" for base in BASES[:n_symbols])
            args = ["capture", "--config", str(config), "--exchange", "binance", "--symbols", symbols, "--out", str(store)]
            with contextlib.redirect_stdout(io.StringIO()):
                assert ccxt_mm([*args, "--duration", str(seconds)]) == 0
            sent, push_secs = done.get(timeout=10)
            return figures(store, n_symbols, sent, push_secs)
    finally:
        child.kill()
        child.join()


def figures(store: Path, n_symbols: int, sent: dict[str, int], push_secs: float) -> dict[str, float]:
    """Rates over the time the capture received (its first to its last message, our clock);
    bytes on disk per hour of recording time the messages span (the exchange's clock); trades
    sent and kept (ccxt.pro keeps a symbol's last 1,000 trades: a capture that falls further
    behind loses the older ones)."""
    files = Manifest.load(store).files
    size = sum((store / f.path).stat().st_size for f in files)
    rows, messages = sum(f.rows for f in files), sum(f.messages for f in files)
    receiving_secs = (max(f.last_recv_ns for f in files) - min(f.first_recv_ns for f in files)) / 1e9
    recorded_hours, trades = 0.0, 0
    for base in BASES[:n_symbols]:
        log = read_store(str(store), f"{base}/USDT")
        exch = log.msg_exch_ns[log.msg_exch_ns > 0]
        recorded_hours += (exch.max() - exch.min()) / 3.6e12
        trades += int((log.msg_kind == MsgKind.TRADE).sum())
    return {
        "sent_per_s": (sent["depth"] + sent["trade"]) / push_secs,
        "messages_per_s": messages / receiving_secs,
        "rows_per_s": rows / receiving_secs,
        "bytes_per_hour_per_symbol": size / recorded_hours,
        "diffs_sent": sent["depth"],
        "books_kept": messages - trades,
        "trades_sent": sent["trade"],
        "trades_kept": trades,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=3, help=f"markets captured (at most {len(BASES)})")
    parser.add_argument("--rate", type=float, default=0.0, help="messages a second per symbol the emulator sends (0: as fast as it can)")
    parser.add_argument("--seconds", type=float, default=20.0, help="capture duration (the recording may end first)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for i in range(args.repeat):
        run = one_run(args.symbols, args.rate, args.seconds)
        runs.append(run)
        shown = ", ".join(f"{k} {v:,.0f}" for k, v in run.items())
        print(f"run {i + 1}: {shown}", flush=True)
    print(f"medians of {args.repeat}, {args.symbols} symbols, rate {args.rate or 'max'}:")
    for key in runs[0]:
        print(f"  {key}: {statistics.median(r[key] for r in runs):,.0f}")


if __name__ == "__main__":
    main()
