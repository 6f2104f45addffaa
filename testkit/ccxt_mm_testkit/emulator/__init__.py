"""A loopback exchange emulator (aiohttp on 127.0.0.1) that speaks real exchange dialects,
so ccxt's signing, parsing and error mapping run for real in tests and benchmarks."""
