"""The config's base sizes become the market's contracts once, at the edge."""

from __future__ import annotations

import pytest

from ccxt_mm.amounts import in_amount_units
from ccxt_mm.config import parse_config
from ccxt_mm.errors import ConfigError


def config(symbol: str, size: float = 1.0, unit: str = "base", **sections: dict) -> object:
    market = {"symbol": symbol, "contract_size": size, "lot_size": 1.0 if size != 1.0 else 0.001, "size_unit": unit}
    return parse_config({"market": market, **sections}, "t.yaml")


def test_spot_is_left_as_it_is():
    spot = parse_config({}, "t.yaml")
    converted, units = in_amount_units(spot, None)
    assert converted is spot and units.unit == "base" and units.as_summary() == {}


def test_a_linear_contracts_sizes_are_base_over_the_contract_size():
    """OKX ETH-USDT-SWAP: 0.01 ETH a contract, so 0.5 ETH is 50 contracts at any price."""
    cfg = config(
        "ETH/USDT:USDT",
        0.01,
        strategy={"params": {"order_qty": 0.05}},
        risk={"max_position_base": 0.5},
        book={"impact_qty": 2.0},
    )
    out, units = in_amount_units(cfg, None)
    assert out.strategy.params["order_qty"] == pytest.approx(5.0)
    assert out.risk.max_position_base == pytest.approx(50.0)
    assert out.book.impact_qty == pytest.approx(200.0)
    assert units.reference_price is None and units.per_given == pytest.approx(100.0)
    assert out.paper == cfg.paper  # a linear swap's collateral is the quote: nothing to convert


def test_an_inverse_contracts_sizes_are_fixed_at_the_reference_price():
    """Binance COIN-M ETHUSD_PERP: 10 USD a contract; at 2,500 USD one ETH is 250 contracts, and
    the collateral not given in ETH is initial_quote at that price."""
    cfg = config(
        "ETH/USD:ETH",
        10.0,
        strategy={"params": {"order_qty": 0.04}},
        risk={"max_position_base": 0.4},
        paper={"initial_quote": 5_000.0},
    )
    out, units = in_amount_units(cfg, 2_500.0)
    assert out.strategy.params["order_qty"] == pytest.approx(10.0)
    assert out.risk.max_position_base == pytest.approx(100.0)
    assert out.paper.initial_base == pytest.approx(2.0)
    summary = units.as_summary()["amounts"]
    assert summary["reference_price"] == 2_500.0 and summary["unit"] == "contracts"
    assert summary["converted"]["risk.max_position_base"] == {"given": 0.4, "used": pytest.approx(100.0)}


def test_an_order_under_one_lot_after_conversion_is_refused_with_the_numbers():
    cfg = config("ETH/USD:ETH", 10.0, strategy={"params": {"order_qty": 0.002}})
    with pytest.raises(ConfigError) as exc:
        in_amount_units(cfg, 2_500.0, "coinm.yaml")
    assert exc.value.problems == [
        "strategy.params.order_qty: 0.002 ETH is 0.5 contracts of ETH/USD:ETH at 2500 USD (10 USD a contract), "
        "under the lot of 1: no quote could be placed"
    ]
    with pytest.raises(ConfigError, match=r"market\.size_unit base: ETH/USD:ETH's sizes need a reference price"):
        in_amount_units(cfg, None)


def test_a_plugins_params_are_its_own():
    cfg = config("ETH/USDT:USDT", 0.01, strategy={"name": "other", "params": {"order_qty": 0.05}})
    out, units = in_amount_units(cfg, None)
    assert out.strategy.params == {"order_qty": 0.05} and "strategy.params.order_qty" not in units.converted


def test_sizes_given_in_contracts_are_used_as_they_are():
    cfg = config("ETH/USDT:USDT", 0.01, "contracts", strategy={"params": {"order_qty": 5.0}}, risk={"max_position_base": 50.0})
    out, units = in_amount_units(cfg, None)
    assert out is cfg and units.as_summary() == {} and (units.unit, units.given) == ("contracts", "contracts")


def test_sizes_given_in_quote_are_their_value_at_the_reference_price():
    """OKX ETH-USDT-SWAP (0.01 ETH a contract): 100 USDT at 2,500 is 0.04 ETH, 4 contracts;
    Binance COIN-M ETHUSD_PERP (10 USD a contract): 100 USD is 10 contracts at any price;
    spot BTC/USDT: 1,000 USDT at 50,000 is 0.02 BTC."""
    linear = config("ETH/USDT:USDT", 0.01, "quote", strategy={"params": {"order_qty": 100.0}}, risk={"max_position_base": 1_000.0})
    out, units = in_amount_units(linear, 2_500.0)
    assert out.strategy.params["order_qty"] == pytest.approx(4.0) and out.risk.max_position_base == pytest.approx(40.0)
    summary = units.as_summary()["amounts"]
    assert (summary["given_in"], summary["reference_price"], summary["per_given"]) == ("quote", 2_500.0, pytest.approx(0.04))
    with pytest.raises(ConfigError, match=r"market\.size_unit quote: ETH/USDT:USDT's sizes need a reference price"):
        in_amount_units(linear, None)
    inverse = config("ETH/USD:ETH", 10.0, "quote", strategy={"params": {"order_qty": 100.0}})
    assert in_amount_units(inverse, None)[0].strategy.params["order_qty"] == pytest.approx(10.0)
    spot = parse_config(
        {"market": {"size_unit": "quote"}, "strategy": {"params": {"order_qty": 1_000.0}}, "risk": {"max_position_base": 5_000.0}}, "t.yaml"
    )
    out, units = in_amount_units(spot, 50_000.0)
    assert out.strategy.params["order_qty"] == pytest.approx(0.02) and out.risk.max_position_base == pytest.approx(0.1)
    assert units.unit == "base" and units.given == "quote"
    with pytest.raises(ConfigError) as exc:
        in_amount_units(config("ETH/USDT:USDT", 0.01, "quote", strategy={"params": {"order_qty": 10.0}}), 2_500.0, "q.yaml")
    assert exc.value.problems == [
        "strategy.params.order_qty: 10 USDT is 0.4 contracts of ETH/USDT:USDT at 2500 USDT (0.01 ETH a contract), "
        "under the lot of 1: no quote could be placed"
    ]


def test_a_spot_market_has_no_contracts():
    with pytest.raises(ConfigError, match="size_unit: BTC/USDT is spot; its sizes are in base or quote"):
        parse_config({"market": {"size_unit": "contracts"}}, "t.yaml")
