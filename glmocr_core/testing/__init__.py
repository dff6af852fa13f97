"""Random-weight checkpoints and a small tokenizer in the official layouts, for tests, benchmarks and demos.
Runtime code never imports this package."""
