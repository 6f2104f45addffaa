"""One dialect module per exchange, each with its emulator dialect in the test kit."""

from __future__ import annotations

from importlib import import_module

import pytest

from ccxt_mm.config import dialect_names
from ccxt_mm.exchange.clients import client_class
from ccxt_mm.exchange.dialects import Dialect, dialect, names, public_dialect


def test_the_dialects_are_the_modules_of_the_folder():
    assert names() == ("binance", "bybit", "okx")
    assert dialect_names() == names()  # what the config accepts, read without importing the edge


@pytest.mark.parametrize("name", names())
def test_each_dialect_is_named_for_its_module_and_has_an_emulator(name):
    d = dialect(name)
    assert isinstance(d, Dialect) and d.name == name
    emulated = import_module(f"ccxt_mm_testkit.emulator.{name}")  # what the tests run the dialect against
    assert any(n.lower() == f"{name}dialect" and hasattr(v, "routes") for n, v in vars(emulated).items())
    assert client_class(name) is (d.client_class or getattr(import_module("ccxt.pro"), name))


def test_an_unknown_exchange_names_the_known_ones():
    with pytest.raises(ValueError, match="no dialect for exchange 'kraken' \\(known: binance, bybit, okx\\)"):
        dialect("kraken")


def test_the_amend_facts_differ_as_the_exchanges_do():
    assert dialect("binance").amend_replaces and not dialect("binance").amend_sets_total_size
    assert dialect("okx").amend_sets_total_size and dialect("bybit").amend_sets_total_size
    assert dialect("okx").pushed_fee_sign == -1.0 and dialect("bybit").pushed_fee_sign == 1.0


def test_the_test_kit_records_every_dialect():
    from ccxt_mm_testkit.commands import DIALECTS

    assert names() == DIALECTS


def test_an_exchange_without_a_module_is_read_with_ccxt_s_unified_behaviour():
    """A capture may read any exchange ccxt speaks; trading one still needs its module."""
    kraken = public_dialect("kraken")
    assert kraken == Dialect(name="kraken") and kraken.book_depth(25) == 25
    assert public_dialect("bybit") is dialect("bybit")
