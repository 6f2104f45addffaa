"""The exchange edge: the only package that imports ccxt.

Clients and credentials (:mod:`.clients`), the live venue (:mod:`.venue`), book and trade
feeds (:mod:`.feed`), and the per-exchange dialect facts. Importing it first puts the lazy
loader of :mod:`.loader` in front of ccxt, so ``import ccxt`` loads only the exchanges used.
"""

from ccxt_mm.exchange.loader import install

install()
