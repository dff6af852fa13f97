"""llama.cpp's ``convert_hf_to_gguf.py`` for the benchmark's random checkpoint:
``python -m bench.llamacpp_convert LLAMA_CPP_DIR MODEL_DIR [converter options]``.

The converter recognises a tokenizer's pre-tokenizer by hashing how it splits a fixed text; the synthetic test
tokenizer is unknown to it, so its answer is set to ``glm4`` (GLM-OCR's) here, then the converter runs unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

PRE_TOKENIZER = "glm4"


def main(argv: list[str]) -> None:
    source, model, options = Path(argv[0]), argv[1], argv[2:]
    sys.path[:0] = [str(source), str(source / "gguf-py")]
    import convert_hf_to_gguf as converter

    text_model(converter).get_vocab_base_pre = lambda self, tokenizer: PRE_TOKENIZER
    sys.argv = ["convert_hf_to_gguf.py", model, *options]
    converter.main()


def text_model(converter):
    """The converter's text-model base class: in the script itself in older llama.cpp, in its ``conversion``
    package since the script was split up."""
    if hasattr(converter, "TextModel"):
        return converter.TextModel
    from conversion.base import TextModel

    return TextModel


if __name__ == "__main__":
    main(sys.argv[1:])
