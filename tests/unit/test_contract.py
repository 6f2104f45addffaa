"""A market's contract: the cash-flow accounting the paper venue and the core keep agrees with
the average-cost ledger, and the money formulas are the exchanges'."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccxt_mm.execution.market import MarketParams
from ccxt_mm.quoting.contract import SPOT, Contract
from ccxt_mm.quoting.inventory import Inventory

fills = st.lists(
    st.tuples(st.sampled_from([1, -1]), st.integers(1_000, 9_000).map(float), st.integers(1, 40).map(float), st.integers(0, 5)),
    min_size=1,
    max_size=20,
)


@given(
    fills, st.sampled_from([(1.0, False), (0.01, False), (10.0, True), (100.0, True)]), st.integers(1_000, 9_000), st.floats(-0.003, 0.003)
)
def test_cash_plus_the_position_value_is_the_start_plus_the_ledgers_pnl(trades, contract, mark, rate):
    """Any fills of either sign from flat, then a funding payment: collateral moved by each
    fill's cost and fee, plus the position valued at the mark, is the starting collateral plus
    realized + unrealized − fees + funding of the average-cost ledger (settle currency)."""
    size, inverse = contract
    c = Contract(size, inverse, True)
    inv = Inventory(contract_size=size, inverse=inverse)
    cash = start = 1_000.0
    for side, price, qty, fee_tenths in trades:
        fee = c.notional(qty, price) * fee_tenths * 1e-5
        inv.on_fill(side, price, qty, fee)
        cash -= c.cost(side, qty, price) + fee
    received = c.funding(inv.position, rate, float(mark))
    cash += received
    assert inv.on_funding(rate, float(mark)) == pytest.approx(received, rel=1e-12, abs=1e-15)
    equity = cash + c.position_value(inv.position, float(mark))
    assert equity - start == pytest.approx(inv.pnl(float(mark)), rel=1e-9, abs=1e-9)


def test_spot_costs_are_the_quote_paid_bit_for_bit():
    """Spot is a contract of one base unit: the same float operations as price × quantity."""
    for side, qty, price in ((1, 0.00123, 61_234.57), (-1, 3.3, 0.1)):
        assert SPOT.cost(side, qty, price) == side * qty * price
        assert SPOT.notional(qty, price) == price * qty == SPOT.quote_notional(qty, price)
    assert not SPOT.margined and SPOT.to_quote(5.0, 100.0) == 5.0


def test_an_inverse_contracts_money_is_in_the_coin():
    """Binance COIN-M ETHUSD_PERP: 100 contracts of 10 USD at 2,500 USD are 0.4 ETH of notional
    (1,000 USD); a long of them is worth −0.4 ETH of cash at 2,500 (it was bought with the coin
    received for it) and funding at 0.01 % costs 0.00004 ETH."""
    c = Contract(10.0, True, True)
    assert c.notional(100.0, 2_500.0) == pytest.approx(0.4)
    assert c.quote_notional(100.0, 2_500.0) == pytest.approx(1_000.0)
    assert c.position_value(100.0, 2_500.0) == pytest.approx(-0.4)
    assert c.cost(1, 100.0, 2_500.0) == pytest.approx(-0.4)  # buying receives the coin value
    assert c.funding(100.0, 0.0001, 2_500.0) == pytest.approx(-0.00004)
    assert c.to_quote(0.4, 2_500.0) == pytest.approx(1_000.0)


@pytest.mark.parametrize(
    ("symbol", "size", "margined", "inverse", "settle"),
    [
        ("BTC/USDT", 1.0, False, False, "USDT"),
        ("ETH/USDT:USDT", 1.0, True, False, "USDT"),
        ("ETH/USDT:USDT", 0.01, True, False, "USDT"),
        ("ETH/USD:ETH", 10.0, True, True, "ETH"),
    ],
)
def test_the_market_says_its_contract(symbol, size, margined, inverse, settle):
    m = MarketParams(symbol=symbol, contract_size=size)
    assert (m.contract, m.settle) == (Contract(size, inverse, margined, 0.005 if margined else 0.0), settle)
    assert (m.base, m.quote) == (symbol.split("/")[0], symbol.split("/")[1].split(":")[0])


def test_a_spot_market_has_no_contract_size_or_leverage():
    with pytest.raises(ValueError, match="contract_size: BTC/USDT is spot, it has none"):
        MarketParams(symbol="BTC/USDT", contract_size=10.0)
    with pytest.raises(ValueError, match="leverage: BTC/USDT is spot, its leverage is 1"):
        MarketParams(symbol="BTC/USDT", leverage=3.0)
    with pytest.raises(ValueError, match="contract_size: ETH/USD:ETH is a swap; give its contract size"):
        MarketParams(symbol="ETH/USD:ETH")


def test_the_liquidation_price_is_binances_single_position_formula():
    """Binance, one position on cross margin with no maintenance amount: USDⓈ-M
    LP = (WB − side × pos × EP) / (pos × MMR − side × pos); COIN-M
    LP = size × (pos × MMR + side × pos) / (WB + side × pos × size / EP), pos in contracts.
    At that price the equity is the maintenance margin: the margin ratio is 1."""
    usdm = Contract(1.0, False, True, 0.005)
    wallet, entry = 1_000.0, 2_000.0
    cash = wallet - usdm.cost(1, 1.0, entry)  # long 1 ETH
    lp = usdm.liquidation_price(1.0, cash)
    assert lp == pytest.approx((wallet - 1 * 1.0 * entry) / (1.0 * 0.005 - 1 * 1.0))
    assert usdm.margin_ratio(1.0, cash, lp) == pytest.approx(1.0)
    short_cash = wallet - usdm.cost(-1, 1.0, entry)
    short_lp = usdm.liquidation_price(-1.0, short_cash)
    assert short_lp == pytest.approx((wallet + 1.0 * entry) / (1.0 * 0.005 + 1.0)) and short_lp > entry
    coinm = Contract(10.0, True, True, 0.005)
    wallet_eth = 0.1
    cash = wallet_eth - coinm.cost(1, 100.0, entry)  # long 100 contracts of 10 USD
    lp = coinm.liquidation_price(100.0, cash)
    assert lp == pytest.approx(10.0 * (100 * 0.005 + 100) / (wallet_eth + 100 * 10.0 / entry))
    assert coinm.margin_ratio(100.0, cash, lp) == pytest.approx(1.0) and lp < entry
    short_cash = wallet_eth - coinm.cost(-1, 100.0, entry)  # short 0.5 ETH of notional on 0.1: liquidated above
    short_lp = coinm.liquidation_price(-100.0, short_cash)
    assert short_lp > entry and coinm.margin_ratio(-100.0, short_cash, short_lp) == pytest.approx(1.0)
    assert coinm.liquidation_price(-100.0, 1.0 - coinm.cost(-1, 100.0, entry)) is None  # a short its 1 ETH covers: never
    assert usdm.liquidation_price(0.0, wallet) is None and usdm.margin_ratio(0.0, wallet, entry) == 0.0


def test_a_margin_ratio_at_its_limit_is_reduce_only_against_the_position():
    from ccxt_mm.quoting.risk import RiskManager, RiskMode, RiskParams

    risk = RiskManager(RiskParams(max_position_base=100.0, max_margin_ratio=0.5), "ETH")
    calm = risk.evaluate(0, 0.0, {"ETH": -20.0}, {"ETH": -200.0}, 10_000.0, 0.49)
    assert calm.mode is RiskMode.QUOTING
    state = risk.evaluate(1, 0.0, {"ETH": -20.0}, {"ETH": -200.0}, 10_000.0, 0.5)
    assert state.mode is RiskMode.REDUCE_ONLY and state.reduce_side == 1 and state.reduce_max_base == 20.0
    assert state.reason == "margin ratio 0.50 >= max_margin_ratio 0.5"
