"""The exchange edge: the only package that imports ccxt.

Clients, credentials and the choice of venue (:mod:`.clients`), the exchange venue
(:mod:`.venue`), the paper venue on live books (:mod:`.paper`), book and trade feeds
(:mod:`.feed`), ccxt's errors mapped to ours (:mod:`.errors`), and one module of dialect facts
per exchange (:mod:`.dialects`). Importing it first puts the lazy
loader of :mod:`.loader` in front of ccxt, so ``import ccxt`` loads only the exchanges used.
"""

from ccxt_mm.exchange.loader import install

install()
