"""What each ``ccxt-mm`` command does, behind :mod:`ccxt_mm.cli` (which only parses the
command line and dispatches here): ``replay``, ``run``, ``check-config``, the config file and
data paths they read, the predictor they choose and the summary a replay prints."""
