"""GLM-OCR tokenizer and prompt building, with the `tokenizers` library and jinja2 only (no transformers).

The prompt must match what transformers renders from the official chat template, token for token, because the
model was trained on exactly that layout. Special token ids are always looked up by name in the loaded
tokenizer, never hard-coded, so a re-numbered checkpoint fails loudly instead of silently.
"""

from __future__ import annotations

import codecs
import json
from functools import lru_cache
from pathlib import Path

from jinja2 import TemplateError
from tokenizers import Tokenizer, decoders

from ..errors import ModelError, UsageError
from .chat_template import bundled_chat_template, compile_chat_template

IMAGE_TOKEN = "<|image|>"
BEGIN_IMAGE_TOKEN = "<|begin_of_image|>"
END_IMAGE_TOKEN = "<|end_of_image|>"
EOS_TOKEN = "<|endoftext|>"
USER_TOKEN = "<|user|>"  # GLM models often end a turn by starting the next user turn, so it also stops generation

# Tokens the core relies on; a checkpoint without them is not GLM-OCR.
REQUIRED_SPECIALS = ("[gMASK]", "<sop>", USER_TOKEN, "<|assistant|>", BEGIN_IMAGE_TOKEN, IMAGE_TOKEN,
                     END_IMAGE_TOKEN, EOS_TOKEN)


def _load_tokenizer_file(path: Path) -> Tokenizer:
    if not path.is_file():
        raise ModelError("tokenizer.json is missing from the model folder", path)
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust loader raises a bare Exception for every kind of damage
        raise ModelError(f"cannot read the tokenizer: {exc}", path) from exc


def _template_from_config(config_path: Path) -> str | None:
    if not config_path.is_file():
        return None
    try:
        template = json.loads(config_path.read_text(encoding="utf-8")).get("chat_template")
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read tokenizer_config.json: {exc}", config_path) from exc
    if isinstance(template, list):  # the older multi-template form: [{"name": ..., "template": ...}]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    return template if isinstance(template, str) else None


def _find_chat_template(model_dir: Path) -> tuple[str, str]:
    """(template, where it came from): chat_template.jinja in the folder, else tokenizer_config.json's, else the
    bundled official copy."""
    jinja_path = model_dir / "chat_template.jinja"
    if jinja_path.is_file():
        try:
            return jinja_path.read_text(encoding="utf-8"), str(jinja_path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"cannot read the chat template: {exc}", jinja_path) from exc
    config_path = model_dir / "tokenizer_config.json"
    from_config = _template_from_config(config_path)
    if from_config:
        return from_config, str(config_path)
    return bundled_chat_template(), "the bundled chat template"


class GlmTokenizer:
    """A loaded tokenizer plus the chat template; builds prompts and decodes generated ids."""

    def __init__(self, tokenizer: Tokenizer, chat_template: str, source: str = "tokenizer.json",
                 template_source: str = "the chat template"):
        self._tokenizer = tokenizer
        self.source, self.template_source = source, template_source
        try:
            self._template = compile_chat_template(chat_template)
        except TemplateError as exc:
            raise ModelError(f"the chat template does not compile: {exc}", template_source) from exc
        self.special_ids = self._lookup_specials()
        added = tokenizer.get_added_tokens_decoder()
        self.skipped_ids = frozenset(i for i, tok in added.items() if tok.special)
        self._cut_boundaries: tuple[frozenset[int], frozenset[int]] | None = None

    @classmethod
    def from_dir(cls, model_dir: str | Path) -> "GlmTokenizer":
        folder = Path(model_dir)
        tokenizer_path = folder / "tokenizer.json"
        tokenizer = _load_tokenizer_file(tokenizer_path)
        template, template_source = _find_chat_template(folder)
        return cls(tokenizer, template, str(tokenizer_path), template_source)

    def _lookup_specials(self) -> dict[str, int]:
        ids = {}
        for name in REQUIRED_SPECIALS:
            token_id = self._tokenizer.token_to_id(name)
            if token_id is None:
                raise ModelError(f"the tokenizer has no {name} token; is this a GLM-OCR checkpoint?", self.source)
            ids[name] = token_id
        return ids

    # ---- ids --------------------------------------------------------------------------------------------
    @property
    def image_token_id(self) -> int:
        return self.special_ids[IMAGE_TOKEN]

    @property
    def eos_ids(self) -> tuple[int, ...]:
        """The ids that end a reply; the checkpoint's generation_config.json is the authority when present."""
        return (self.special_ids[EOS_TOKEN], self.special_ids[USER_TOKEN])

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def token_to_id(self, token: str) -> int | None:
        return self._tokenizer.token_to_id(token)

    def id_to_token(self, token_id: int) -> str | None:
        return self._tokenizer.id_to_token(token_id)

    # ---- prompts ----------------------------------------------------------------------------------------
    def render_prompt(self, task_text: str, n_images: int = 1, text_first: bool = False) -> str:
        """The chat template rendered for one user turn of images + text, ready for the assistant's reply."""
        images = [{"type": "image"}] * n_images
        text = [{"type": "text", "text": task_text}]
        content = text + images if text_first else images + text
        messages = [{"role": "user", "content": content}]
        try:
            return self._template.render(messages=messages, add_generation_prompt=True)
        except TemplateError as exc:
            raise ModelError(f"the chat template failed to render: {exc}", self.template_source) from exc

    def encode_prompt(self, task_text: str, image_token_counts: list[int], text_first: bool = False) -> list[int]:
        """Prompt ids with each image placeholder expanded to its number of merged image tokens."""
        if IMAGE_TOKEN in task_text:
            raise UsageError(f"the task text contains {IMAGE_TOKEN}, which would add image slots of its own")
        prompt = self.render_prompt(task_text, n_images=len(image_token_counts), text_first=text_first)
        pieces = prompt.split(IMAGE_TOKEN)
        if len(pieces) - 1 != len(image_token_counts):  # the checkpoint's template is not GLM-OCR's
            raise ModelError(f"the chat template gives {len(pieces) - 1} image slots for "
                             f"{len(image_token_counts)} images", self.template_source)
        if any(count < 1 for count in image_token_counts):
            raise UsageError(f"every image needs at least one token, got {image_token_counts}")
        # Same string transformers' processor builds before tokenizing, so the ids match by construction.
        expanded = pieces[0] + "".join(IMAGE_TOKEN * n + piece for n, piece in zip(image_token_counts, pieces[1:]))
        return self.encode(expanded)

    # ---- text <-> ids -----------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Ids for ``text``; special tokens written in the text are recognised, none are added."""
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return self._tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def incremental_decoder(self, skip_special_tokens: bool = True) -> "IncrementalDecoder":
        return IncrementalDecoder(self, skip_special_tokens=skip_special_tokens)

    def is_byte_level(self) -> bool:
        return isinstance(self._tokenizer.decoder, decoders.ByteLevel)

    def line_break_ids(self) -> frozenset[int]:
        """Ids whose text ends a line."""
        return self.cut_boundaries()[0]

    def cut_boundaries(self) -> tuple[frozenset[int], frozenset[int]]:
        """(ids ending a line, ids ending an HTML tag): where the repetition guard prefers to cut, best first."""
        if self._cut_boundaries is None:
            # "\u010a" is how the byte-level alphabet writes "\n"; added tokens hold plain text
            vocab = self._tokenizer.get_vocab(with_added_tokens=True)
            regular = {tok: i for tok, i in vocab.items() if i not in self.skipped_ids}
            lines = frozenset(i for tok, i in regular.items() if tok.endswith(("\u010a", "\n")))
            tags = frozenset(i for tok, i in regular.items() if tok.endswith(">"))
            self._cut_boundaries = (lines, tags)
        return self._cut_boundaries

    def token_bytes(self, token_id: int, skip_special_tokens: bool = True) -> bytes:
        """The raw bytes one id contributes to a byte-level decode (b"" for skipped or unknown ids)."""
        if skip_special_tokens and token_id in self.skipped_ids:
            return b""
        token = self._tokenizer.id_to_token(token_id)
        return b"" if token is None else _byte_level_token_bytes(token)


@lru_cache(maxsize=1)
def _unicode_to_byte() -> dict[str, int]:
    """Inverse of the GPT-2 byte-level alphabet: printable bytes map to themselves, the rest to U+0100 onwards."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    chars, shift = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[chr(byte)] = byte
        else:
            chars[chr(256 + shift)] = byte
            shift += 1
    return chars


def _byte_level_token_bytes(token: str) -> bytes:
    # Like the tokenizers ByteLevel decoder: a token with any char outside the alphabet is taken as plain UTF-8.
    table = _unicode_to_byte()
    if all(ch in table for ch in token):
        return bytes(table[ch] for ch in token)
    return token.encode("utf-8")


class IncrementalDecoder:
    """Turns generated ids into text pieces without ever emitting half of a multi-byte UTF-8 character.

    Byte-level tokenizers (GLM-OCR's) decode through Python's incremental UTF-8 decoder, which holds back an
    incomplete tail and replaces invalid bytes the way the Rust decoder does: O(1) per token. Other decoders
    fall back to re-decoding a short window (prefix/read offsets) and holding back while it ends in U+FFFD.
    The concatenation of all pieces plus ``flush()`` equals ``decode(all_ids)``.
    """

    def __init__(self, tokenizer: GlmTokenizer, skip_special_tokens: bool = True):
        self._tokenizer = tokenizer
        self._skip = skip_special_tokens
        self._byte_level = tokenizer.is_byte_level()
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._window: list[int] = []  # generic path: ids from prefix offset on
        self._read_offset = 0

    def push(self, token_id: int) -> str:
        """Add one generated id; return the text it completed (possibly "")."""
        if self._byte_level:
            return self._utf8.decode(self._tokenizer.token_bytes(token_id, self._skip), final=False)
        return self._push_generic(token_id)

    def flush(self) -> str:
        """Whatever is still held back (an unfinished character becomes U+FFFD, as in a full decode)."""
        if self._byte_level:
            return self._utf8.decode(b"", final=True)
        decode = self._tokenizer.decode
        prefix_text = decode(self._window[: self._read_offset], self._skip)
        rest = decode(self._window, self._skip)[len(prefix_text):]
        self._window, self._read_offset = [], 0
        return rest

    def _push_generic(self, token_id: int) -> str:
        self._window.append(token_id)
        decode = self._tokenizer.decode
        prefix_text = decode(self._window[: self._read_offset], self._skip)
        new_text = decode(self._window, self._skip)
        if len(new_text) <= len(prefix_text) or new_text.endswith("\ufffd"):
            return ""
        # Keep the last emitted chunk as context: some decoders treat the first token of a text specially.
        self._window = self._window[self._read_offset:]
        self._read_offset = len(self._window)
        return new_text[len(prefix_text):]
