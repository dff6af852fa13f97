"""Benchmarks of the GLM-OCR core against transformers, run with ``python -m bench.run``."""
