"""``ccxt-mm record``: the test kit's command, added to the CLI through the
``ccxt_mm.commands`` entry point when the kit is installed.

The CLI loads this module to build its parser, for every command: it imports nothing heavy
here (ccxt, vcrpy and the scenarios are imported when ``record`` runs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccxt_mm.config import AppConfig

DIALECTS = ("binance", "bybit", "okx")
"""The exchanges whose scenarios the emulator and the sandboxes record (checked against the
product's dialects by the tests)."""


def add_record(sub: argparse._SubParsersAction) -> None:
    """Add ``record`` to the CLI's subcommands."""
    rc = sub.add_parser("record", help="record exchange scenario cassettes against a sandbox (keys from the environment)")
    rc.add_argument("--exchange", required=True, choices=DIALECTS)
    rc.add_argument("--symbol", required=True)
    rc.add_argument("--qty", type=float, required=True, help="order size (base) above the exchange minimum")
    rc.add_argument("--out", default="cassettes/exchanges", help="cassette folder (default: cassettes/exchanges)")
    rc.add_argument("--scenario", nargs="+", help="only these scenarios")
    rc.add_argument("--config", help="YAML config naming the credential variables (default: ./config.yaml if present)")
    rc.set_defaults(func=cmd_record)


def cmd_record(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from ccxt_mm.app.config_file import app_config

    config, _, source = app_config(args.config)
    if args.exchange not in config.live.rest_urls:
        config = config.model_copy(update={"live": config.live.model_copy(update={"sandbox": True})})
    results = asyncio.run(_record(config, args.exchange, args.symbol, args.qty, Path(args.out), args.scenario, source))
    print(json.dumps(results, indent=2, sort_keys=True))
    return 0


async def _record(config: AppConfig, exchange: str, symbol: str, qty: float, out: Path, only: list[str] | None, source: str) -> dict:
    import time

    from ccxt_mm.exchange.clients import credentials, make_exchange
    from ccxt_mm.exchange.venue import CcxtVenue
    from ccxt_mm_testkit.cassettes import cassette_vcr
    from ccxt_mm_testkit.record import SCENARIOS

    secrets = list(credentials(config, exchange, source).values())
    recorder = cassette_vcr(out / exchange, record_mode="all", secrets=secrets)
    results = {}
    for name, scenario in SCENARIOS.items():
        if only and name not in only:
            continue
        client = make_exchange(exchange, config, with_credentials=True)
        try:
            with recorder.use_cassette(f"{name}.yaml"):
                venue = CcxtVenue(client, symbol, time.time_ns)
                await venue.start()
                results[name] = await scenario(venue, qty)
        finally:
            await client.close()
    return results
