"""Running the model: KV caches, prefill and decode steps, sampling, generation streams, speculative decoding,
CUDA graphs, devices and dtypes, the CPU kernels timed on the machine at hand, the fast precision and the repetition
guard."""
