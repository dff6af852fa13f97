"""Checkpoints on disk: the folder layout, the safetensors header reader, the folder check, loading the weights,
the converted-weight cache and the download from the Hub."""
