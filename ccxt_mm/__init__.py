"""ccxt-mm: market making on ccxt."""
