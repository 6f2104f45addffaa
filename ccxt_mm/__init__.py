"""ccxt-mm: market making on ccxt. Importing the package makes later ``import ccxt`` load
only the exchanges that are used (see :mod:`ccxt_mm.ccxt_loader`)."""

from ccxt_mm.ccxt_loader import install as _install_ccxt_loader

_install_ccxt_loader()
