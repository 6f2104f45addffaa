"""LLM predictions: an OpenAI-compatible chat client, strict reply validation and the
predictor that keeps the latest prediction per symbol off the quoting path."""
