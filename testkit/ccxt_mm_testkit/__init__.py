"""The ccxt-mm test kit, apart from the product: the loopback exchange and LLM emulator,
vcrpy cassette matching and scrubbing, the recorded exchange scenarios and the ``record``
command. The product imports nothing from here; the kit imports the product."""
