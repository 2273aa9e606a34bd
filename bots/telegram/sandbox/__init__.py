"""A fake Telegram for tests, the demo and benchmarks: the Bot API, its state, sample updates."""
