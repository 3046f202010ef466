"""Running protocols: generation, metrics, latency, result records."""
