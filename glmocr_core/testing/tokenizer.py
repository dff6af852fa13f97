"""A small stand-in for the GLM-OCR tokenizer, for tests and benchmarks.

The real tokenizer is a byte-level BPE with 59,246 regular tokens and 36 special tokens at ids 59246..59281.
This module trains a tiny byte-level BPE on a built-in corpus and pads the regular vocabulary with filler tokens
that no merge can produce, so the special tokens land on their real ids. The result loads both with the
``tokenizers`` library and with transformers (the parity oracle), and builds in well under a second.

Runtime code: must not import pytest or transformers.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from ..processing.chat_template import bundled_chat_template

FIRST_SPECIAL_ID = 59246
# Ids 0..TRAINED_VOCAB_SIZE-1 are real BPE tokens (256 bytes + merges); the corpus yields a few more merges than
# this, so the trainer always fills it. Big enough to merge common words, small enough that rare CJK and emoji
# stay split into byte tokens.
TRAINED_VOCAB_SIZE = 800

# Text the BPE learns from. Rare characters (most CJK, all emoji) appear once or not at all, so they
# encode as several byte tokens: exactly the case incremental decoding must handle.
_CORPUS = [
    "The quick brown fox jumps over the lazy dog. Text Recognition: the page has two columns.",
    "Invoice number 2024-0117, total amount 1,234.56 EUR, due on 12/03/2025. Phone +49 30 1234567.",
    "Section 3.2 describes the results; see Table 4 and Figure 7 for the comparison with previous work.",
    "0123456789 10 20 30 40 50 60 70 80 90 100 256 512 1024 4096 3.14159 2.71828 -17 +42 1e-5",
    r"\frac{a}{b} + \sqrt{x^2 + y^2} = \sum_{i=1}^{n} \alpha_i \beta_i \int_0^\infty e^{-x} dx",
    r"\begin{aligned} E &= mc^2 \\ F &= ma \end{aligned} \left( \frac{\partial f}{\partial x} \right) \mathbf{v}",
    '<table border="1"><thead><tr><th>Name</th><th>Age</th></tr></thead><tbody>',
    '<tr><td>Alice</td><td>30</td></tr><tr><td rowspan="2">Bob</td><td colspan="2">41</td></tr></tbody></table>',
    "<td></td><td></td><td></td><tr></tr> <br> &amp; &lt; &gt;",
    '{"name": "", "date": "", "items": [{"description": "", "price": 0}], "total": null, "paid": true}',
    '```json\n{"invoice_no": "A-17", "seller": {"name": "ACME"}}\n```',
    "请按下列JSON格式输出图中信息 文本识别 公式识别 表格识别 中文文本 姓名 日期 金额 合计 发票",
    "这是一个测试。我们在图中识别文字。",
    "日本語のテキスト、カタカナ、ひらがな。한국어 텍스트.",
    "Emoji 🙂 and symbols © ® ™ € £ ¥ — – … • °C ±",
    "Contents\n1 Introduction ........................ 1\n2 Methods ............ 7\n3 Results .... 12\n",
    "Line one\nLine two\n\n  indented line\r\n\ttabbed\n- bullet\n* star\n1. numbered\n## Heading\n**bold** _it_",
]


def _special_tokens_spec() -> dict:
    return json.loads(resources.files(__package__).joinpath("special_tokens.json").read_text(encoding="utf-8"))


def _byte_level_pipeline(split_regex: str) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(split_regex), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def _train_small_bpe(split_regex: str) -> tuple[dict[str, int], list[tuple[str, str]]]:
    tokenizer = _byte_level_pipeline(split_regex)
    trainer = trainers.BpeTrainer(
        vocab_size=TRAINED_VOCAB_SIZE,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte must be encodable
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS, trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    if len(model["vocab"]) != TRAINED_VOCAB_SIZE:  # a broken invariant (corpus too small), not a user error
        raise RuntimeError(f"trained {len(model['vocab'])} tokens, expected {TRAINED_VOCAB_SIZE}")
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return model["vocab"], merges


def _pad_with_fillers(vocab: dict[str, int], size: int) -> dict[str, int]:
    """Fill ids up to ``size`` with tokens that no merge produces, so encoding can never reach them."""
    padded = dict(vocab)
    next_id, serial = len(padded), 0
    while next_id < size:
        name = f"<filler{serial}>"  # printable ASCII: the byte-level decoder maps it to itself
        serial += 1
        if name not in padded:
            padded[name] = next_id
            next_id += 1
    return padded


def build_test_tokenizer() -> Tokenizer:
    """The in-memory tokenizer: trained BPE + fillers + the 36 specials at their real ids."""
    spec = _special_tokens_spec()
    split_regex = spec["pretokenizer_split_regex"]
    vocab, merges = _train_small_bpe(split_regex)
    tokenizer = _byte_level_pipeline(split_regex)
    tokenizer.model = models.BPE(vocab=_pad_with_fillers(vocab, spec["first_id"]), merges=merges)
    specials = [AddedToken(t, special=True, normalized=False) for t in spec["tokens"]]
    tokenizer.add_special_tokens(specials)
    return tokenizer


def _tokenizer_config(spec: dict, template: str) -> dict:
    return {
        "tokenizer_class": "TokenizersBackend",
        "processor_class": "Glm46VProcessor",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "padding_side": "left",
        "model_max_length": 655380,
        "clean_up_tokenization_spaces": False,  # decode must be a plain byte concatenation
        "extra_special_tokens": spec["tokens"][1:],
        "chat_template": template,
    }


def write_test_tokenizer(out_dir: str | Path) -> Path:
    """Write tokenizer.json, tokenizer_config.json and chat_template.jinja into ``out_dir``; return it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_test_tokenizer()
    first_special = tokenizer.token_to_id(_special_tokens_spec()["tokens"][0])
    if first_special != FIRST_SPECIAL_ID:  # a broken invariant, not a user error
        raise RuntimeError(f"special tokens start at {first_special}, expected {FIRST_SPECIAL_ID}")
    tokenizer.save(str(out / "tokenizer.json"))
    template = bundled_chat_template()
    config = _tokenizer_config(_special_tokens_spec(), template)
    (out / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "chat_template.jinja").write_text(template, encoding="utf-8")
    return out
