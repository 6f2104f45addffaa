"""The risk book several processes share (``portfolio.store: redis``): each process keeps its
in-process :class:`~ccxt_mm.quoting.portfolio.Portfolio` for the quoting path and mirrors the
book in Redis, where claims on each asset's limit are granted atomically."""
