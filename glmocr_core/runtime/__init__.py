"""Running the model: KV caches, prefill and decode steps, sampling, generation streams, speculative decoding,
CUDA graphs, devices and dtypes, the fast precision and the repetition guard."""
