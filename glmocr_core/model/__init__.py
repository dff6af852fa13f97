"""The network itself: config as data, layers, rope, attention backends, vision tower, decoder, the whole model.
Weights and shapes only; no request state (that is the runtime's)."""
