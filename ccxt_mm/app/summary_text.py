"""The summary ``ccxt-mm replay`` prints (without ``--json``)."""

from __future__ import annotations

import math
from pathlib import Path


def print_summary(s: dict[str, object], written: list[Path]) -> None:
    """Print the replay summary ``s`` (see :func:`ccxt_mm.report.summarize`: PnL and fees in
    the settle currency, inventory in the market's amount unit, edges in bps, wall in s) and
    the report files ``written``."""

    def f(key: str, fmt: str = "{:.4f}") -> str:
        v = s.get(key)
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)

    u = s.get("units", {})
    base, money, amount = u.get("volume_base", "base"), u.get("pnl_total", "quote"), u.get("final_position", "base")
    sp = s.get("span", {})
    print(f"symbol            {s['symbol']}  ({s['messages']} messages, {s['book_rows']} book rows)")
    _print_swap(s)
    if isinstance(sp, dict) and sp:
        print(f"span              {sp['start_utc']} to {sp['end_utc']} ({sp['secs'] / 60:.1f} min)")
    print(
        f"quoted            two-sided {f('time_quoted_secs', '{:.0f}')} s ({f('time_quoted_fraction', '{:.0%}')} of the span), "
        f"average spread {f('avg_quoted_spread_bps', '{:.2f}')} bps"
    )
    print(
        f"fills             {s['fills']} executions (maker {s['maker_fills']}, taker {s['taker_fills']}) of "
        f"{s['orders_filled']} orders filled + {s['orders_partly_filled']} partly; fill ratio {f('fill_ratio', '{:.1%}')}; "
        f"volume {f('volume_base', '{:.6f}')} {base}"
    )
    print(
        f"{f'pnl ({money})':<18}total {f('pnl_total', '{:.6g}')} = realized {f('pnl_realized', '{:.6g}')} "
        f"+ unrealized {f('pnl_unrealized', '{:.6g}')} - fees {f('fees', '{:.6g}')}"
        + (f" + funding {f('funding', '{:.6g}')} ({s['funding_payments']} funding times crossed)" if "funding" in s else "")
    )
    print(f"{f'inventory ({amount})':<17} final {f('final_position', '{:.6f}')}, max |q| {f('max_abs_inventory', '{:.6f}')}")
    print(
        f"orders            created {s['orders_created']}, cancelled {s['orders_cancelled']}, "
        f"post-only rejects {s['post_only_rejects']}, left open {s['orders_left_open']}"
    )
    print(f"edge (bps)        captured {f('captured_bps', '{:.3f}')}, adverse {f('adverse_bps', '{:.3f}')}, fees {f('fee_bps', '{:.3f}')}")
    print(f"break-even spread {f('break_even_spread_bps', '{:.3f}')} bps")
    print(f"predictor         {s['predictor']}")
    comparison = s.get("comparison")
    if isinstance(comparison, dict):
        _print_comparison(comparison, s.get("predictions", {}))
    print(f"wall              {s['wall_s']} s")
    print("report            " + ", ".join(str(p) for p in written))


def _print_comparison(comparison: dict, p: object) -> None:
    """The side-by-side of the replays without and with predictions, and the LLM's usage
    (``p``: the predictor's summary; cost in USD)."""
    without, with_ = comparison["without_predictions"], comparison["with_predictions"]
    print(f"                  {'without':>14} {'with':>14}")
    for key in ("fills", "pnl_total", "fees", "max_abs_inventory", "final_position"):
        print(f"  {key:<16}{without[key]:>14.6g} {with_[key]:>14.6g}")
    if isinstance(p, dict) and "requests" in p:
        print(
            f"  llm             {p['requests']} requests, {p['predictions']} predictions, {p['discarded']} discarded, "
            f"{p['failed_requests']} failed; {p['prompt_tokens'] + p['completion_tokens']} tokens, ${p['cost_usd']:.4f} "
            f"(${p['cost_usd_per_hour']:.4f}/h)"
        )


def _print_swap(s: dict[str, object]) -> None:
    """A swap's lines of the summary ``s``: the contract, the margin ratio and the liquidation price."""
    market = s.get("market")
    if not isinstance(market, dict) or market.get("type") != "swap":
        return
    print(
        f"market            {market['margin']} swap, {market['contract_size']} a contract, settled in {market['settle']}, "
        f"leverage {market['leverage']:g}"
    )
    price, away = s.get("liquidation_price"), s.get("liquidation_distance_bps")
    where = "none (flat, or the collateral covers the position)" if price is None else f"{price:.6g} ({away:.0f} bps away)"
    print(f"equity            {s['equity_settle']:.6g} {market['settle']} (wallet {next(iter(s['balances'].values())):.6g})")
    print(f"margin            ratio {s['margin_ratio']:.3f} (highest {s['margin_ratio_max']:.3f}), liquidation price {where}")
