"""Tokenizer, prompt rendering and incremental decoding, checked against transformers as the oracle."""

from __future__ import annotations

import json
import random
from importlib import resources

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from glmocr_core.errors import ModelError, UsageError
from glmocr_core.processing.tokenizer import IMAGE_TOKEN, GlmTokenizer

SPEC = json.loads(resources.files("glmocr_core.testing").joinpath("special_tokens.json").read_text(encoding="utf-8"))
TASK_TEXTS = ["Text Recognition:", "Formula Recognition:", "Table Recognition:",
              '请按下列JSON格式输出图中信息:\n{"名称": "", "date": "", "items": [{"price": ""}]}']


def _messages(task_text: str, n_images: int, text_first: bool) -> list[dict]:
    images = [{"type": "image"}] * n_images
    text = [{"type": "text", "text": task_text}]
    return [{"role": "user", "content": text + images if text_first else images + text}]


def _processor_ids(hf_tokenizer, task_text: str, counts: list[int], text_first: bool = False) -> list[int]:
    """What transformers' Glm46V processor does: render, expand each <|image|> in turn, tokenize."""
    text = hf_tokenizer.apply_chat_template(_messages(task_text, len(counts), text_first), tokenize=False,
                                            add_generation_prompt=True)
    for count in counts:
        text = text.replace(IMAGE_TOKEN, "<|placeholder|>" * count, 1)
    text = text.replace("<|placeholder|>", IMAGE_TOKEN)
    return hf_tokenizer(text, add_special_tokens=False)["input_ids"]


# ---- special tokens ----------------------------------------------------------------------------------------


def test_special_tokens_sit_at_the_real_ids(glm_tokenizer):
    for offset, name in enumerate(SPEC["tokens"]):
        assert glm_tokenizer.token_to_id(name) == SPEC["first_id"] + offset, name
    assert glm_tokenizer.vocab_size == SPEC["first_id"] + len(SPEC["tokens"])


def test_eos_and_image_ids_are_looked_up_by_name(glm_tokenizer):
    assert glm_tokenizer.eos_ids == (glm_tokenizer.token_to_id("<|endoftext|>"), glm_tokenizer.token_to_id("<|user|>"))
    assert glm_tokenizer.image_token_id == glm_tokenizer.token_to_id("<|image|>")


def test_eos_ids_agree_with_the_official_generation_config(glm_tokenizer, shared_reference):
    generation = json.loads((shared_reference / "generation_config.json").read_text())
    assert sorted(glm_tokenizer.eos_ids) == sorted(generation["eos_token_id"])


@pytest.mark.reference
def test_transformers_sees_the_same_vocabulary(glm_tokenizer, hf_tokenizer):
    assert hf_tokenizer.eos_token_id == glm_tokenizer.token_to_id("<|endoftext|>")
    assert hf_tokenizer.pad_token_id == glm_tokenizer.token_to_id("<|endoftext|>")
    assert hf_tokenizer.padding_side == "left"
    assert len(hf_tokenizer) == glm_tokenizer.vocab_size
    for name in SPEC["tokens"]:
        assert hf_tokenizer.convert_tokens_to_ids(name) == glm_tokenizer.token_to_id(name)


@pytest.mark.reference
def test_pretrained_tokenizer_fast_loads_the_folder_too(glm_tokenizer, synthetic_tokenizer_dir):
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast.from_pretrained(str(synthetic_tokenizer_dir))
    text = "Table Recognition: <td>12</td> 中文 🦜<|image|>"
    assert fast(text, add_special_tokens=False)["input_ids"] == glm_tokenizer.encode(text)


# ---- prompts -----------------------------------------------------------------------------------------------


def test_prompt_image_first_is_the_official_string(glm_tokenizer):
    assert glm_tokenizer.render_prompt("Text Recognition:") == (
        "[gMASK]<sop><|user|>\n<|begin_of_image|><|image|><|end_of_image|>Text Recognition:<|assistant|>\n")


def test_prompt_text_first_keeps_the_message_order(glm_tokenizer):
    assert glm_tokenizer.render_prompt("Table Recognition:", text_first=True) == (
        "[gMASK]<sop><|user|>\nTable Recognition:<|begin_of_image|><|image|><|end_of_image|><|assistant|>\n")


@pytest.mark.reference
@pytest.mark.parametrize("text_first", [False, True])
@pytest.mark.parametrize("n_images", [0, 1, 2])
def test_prompt_matches_transformers_chat_template(glm_tokenizer, hf_tokenizer, n_images, text_first):
    for task_text in TASK_TEXTS:
        expected = hf_tokenizer.apply_chat_template(_messages(task_text, n_images, text_first), tokenize=False,
                                                    add_generation_prompt=True)
        assert glm_tokenizer.render_prompt(task_text, n_images, text_first) == expected


@pytest.mark.reference
@pytest.mark.parametrize("counts", [[1], [4], [64], [9, 16]])
@pytest.mark.parametrize("text_first", [False, True])
def test_encode_prompt_matches_the_transformers_processor(glm_tokenizer, hf_tokenizer, counts, text_first):
    for task_text in TASK_TEXTS:
        ids = glm_tokenizer.encode_prompt(task_text, counts, text_first=text_first)
        assert ids == _processor_ids(hf_tokenizer, task_text, counts, text_first)
        assert ids.count(glm_tokenizer.image_token_id) == sum(counts)


def test_encode_prompt_adds_no_special_tokens_of_its_own(glm_tokenizer):
    ids = glm_tokenizer.encode_prompt("Text Recognition:", [4])
    assert ids[:3] == [glm_tokenizer.token_to_id(t) for t in ("[gMASK]", "<sop>", "<|user|>")]
    assert glm_tokenizer.decode(ids, skip_special_tokens=False) == glm_tokenizer.render_prompt(
        "Text Recognition:").replace(IMAGE_TOKEN, IMAGE_TOKEN * 4)


@pytest.mark.parametrize("counts", [[0], [-3], [4, 0]])
def test_encode_prompt_rejects_images_without_tokens(glm_tokenizer, counts):
    with pytest.raises(UsageError):
        glm_tokenizer.encode_prompt("Text Recognition:", counts)


def test_a_task_text_containing_the_image_tag_is_refused(glm_tokenizer):
    with pytest.raises(UsageError, match="image slots"):
        glm_tokenizer.encode_prompt("look at <|image|>", [4])


# ---- loading -----------------------------------------------------------------------------------------------


def _copy_tokenizer_files(src, dst, names=("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")):
    dst.mkdir(exist_ok=True)
    for name in names:
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_missing_tokenizer_json_is_a_model_error_naming_the_file(tmp_path):
    with pytest.raises(ModelError) as caught:
        GlmTokenizer.from_dir(tmp_path)
    assert "tokenizer.json" in str(caught.value) and str(tmp_path) in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"model": {"type": "BPE"}}', b"\x00\xff" * 50])
def test_corrupt_tokenizer_json_is_a_model_error(tmp_path, content):
    (tmp_path / "tokenizer.json").write_bytes(content)
    with pytest.raises(ModelError, match="tokenizer.json"):
        GlmTokenizer.from_dir(tmp_path)


def test_a_tokenizer_without_glm_specials_is_a_model_error(tmp_path):
    plain = Tokenizer(models.BPE())
    plain.pre_tokenizer = pre_tokenizers.ByteLevel()
    plain.train_from_iterator(["some text"], trainers.BpeTrainer(vocab_size=300, show_progress=False))
    plain.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(ModelError, match="GLM-OCR"):
        GlmTokenizer.from_dir(tmp_path)


def test_chat_template_falls_back_to_tokenizer_config(synthetic_tokenizer_dir, tmp_path):
    folder = _copy_tokenizer_files(synthetic_tokenizer_dir, tmp_path / "m", ("tokenizer.json",))
    template = "[gMASK]<sop>{% for m in messages %}<|user|>CUSTOM{% endfor %}<|assistant|>"
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": template}))
    assert GlmTokenizer.from_dir(folder).render_prompt("x") == "[gMASK]<sop><|user|>CUSTOM<|assistant|>"


def test_chat_template_in_the_older_list_form(synthetic_tokenizer_dir, tmp_path):
    folder = _copy_tokenizer_files(synthetic_tokenizer_dir, tmp_path / "m", ("tokenizer.json",))
    templates = [{"name": "tool_use", "template": "TOOLS"}, {"name": "default", "template": "DEFAULT"}]
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": templates}))
    assert GlmTokenizer.from_dir(folder).render_prompt("x") == "DEFAULT"


def test_chat_template_falls_back_to_the_bundled_copy(synthetic_tokenizer_dir, tmp_path, glm_tokenizer):
    folder = _copy_tokenizer_files(synthetic_tokenizer_dir, tmp_path / "m", ("tokenizer.json",))
    assert GlmTokenizer.from_dir(folder).render_prompt("Text Recognition:") == glm_tokenizer.render_prompt(
        "Text Recognition:")


def test_chat_template_jinja_wins_over_tokenizer_config(synthetic_tokenizer_dir, tmp_path):
    folder = _copy_tokenizer_files(synthetic_tokenizer_dir, tmp_path / "m")
    (folder / "chat_template.jinja").write_text("FROM-JINJA-FILE")
    assert GlmTokenizer.from_dir(folder).render_prompt("x") == "FROM-JINJA-FILE"


def test_broken_chat_template_is_a_model_error(synthetic_tokenizer_dir, tmp_path):
    folder = _copy_tokenizer_files(synthetic_tokenizer_dir, tmp_path / "m", ("tokenizer.json",))
    (folder / "chat_template.jinja").write_text("{% for m in messages %}unclosed")
    with pytest.raises(ModelError, match="chat template"):
        GlmTokenizer.from_dir(folder)


# ---- decoding ----------------------------------------------------------------------------------------------


def test_line_break_ids_are_the_tokens_ending_a_line(glm_tokenizer):
    breaks = glm_tokenizer.line_break_ids()
    assert glm_tokenizer.encode("\n")[-1] in breaks
    assert all(glm_tokenizer.decode([i]).endswith("\n") for i in breaks)
    assert not any(i in breaks for i in glm_tokenizer.encode("no line break here"))


@pytest.mark.reference
def test_decode_matches_transformers(glm_tokenizer, hf_tokenizer):
    ids = glm_tokenizer.encode_prompt("Text Recognition:", [4]) + glm_tokenizer.encode("Hello 世界 🙂 <td>1</td>")
    ids += [800, 801, 5000, 59245]  # filler tokens: unreachable by encoding, but a random model can emit them
    for skip in (True, False):
        assert glm_tokenizer.decode(ids, skip) == hf_tokenizer.decode(ids, skip_special_tokens=skip)


def _stream(decoder, ids) -> list[str]:
    return [decoder.push(i) for i in ids] + [decoder.flush()]


def test_a_character_split_over_tokens_is_emitted_once_complete(glm_tokenizer):
    text = "a 𝛼 ∮ 🦜 龘"  # rare characters the small vocabulary can only spell byte by byte
    ids = glm_tokenizer.encode(text)
    lone_bytes = [i for i in ids if "\ufffd" in glm_tokenizer.decode([i])]
    assert len(lone_bytes) >= 6, "the test needs characters that span several tokens"
    deltas = _stream(glm_tokenizer.incremental_decoder(), ids)
    assert "".join(deltas) == text
    assert not any("\ufffd" in d for d in deltas)
    assert deltas.count("") >= len(lone_bytes) // 2  # held back while a character was incomplete


@pytest.mark.parametrize("text", ["这是一个测试。表格识别", "emoji 👩‍👩‍👧 ok", "∑ 中 🦜\n龘 x"])
def test_incremental_text_equals_full_decode(glm_tokenizer, text):
    ids = glm_tokenizer.encode(text)
    assert "".join(_stream(glm_tokenizer.incremental_decoder(), ids)) == glm_tokenizer.decode(ids) == text


@pytest.mark.parametrize("skip", [True, False])
def test_incremental_decode_of_random_ids_equals_full_decode(glm_tokenizer, skip):
    # Random byte tokens make invalid and truncated UTF-8, which must turn into the same U+FFFD as a full decode.
    rng = random.Random(1234)
    specials = list(range(SPEC["first_id"], SPEC["first_id"] + len(SPEC["tokens"])))
    pool = list(range(256)) + list(range(256, 800)) + specials + [900, 59245, 59300]
    for _ in range(200):
        ids = [rng.choice(pool) for _ in range(rng.randrange(0, 30))]
        decoder = glm_tokenizer.incremental_decoder(skip_special_tokens=skip)
        assert "".join(_stream(decoder, ids)) == glm_tokenizer.decode(ids, skip), ids


def test_incremental_decode_skips_special_tokens(glm_tokenizer):
    ids = glm_tokenizer.encode("Hi") + list(glm_tokenizer.eos_ids)
    assert "".join(_stream(glm_tokenizer.incremental_decoder(), ids)) == "Hi"
    kept = "".join(_stream(glm_tokenizer.incremental_decoder(skip_special_tokens=False), ids))
    assert kept == "Hi<|endoftext|><|user|>"


def _metaspace_tokenizer() -> GlmTokenizer:
    """A tokenizer whose decoder is not byte-level, to exercise the windowed fallback path."""
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=120, special_tokens=["[UNK]"], show_progress=False)
    tok.train_from_iterator(["hello world, the quick fox", "日本 語 hello"], trainer)
    names = ["[gMASK]", "<sop>", "<|user|>", "<|assistant|>", "<|begin_of_image|>", "<|image|>",
             "<|end_of_image|>", "<|endoftext|>"]
    tok.add_special_tokens(names)
    return GlmTokenizer(tok, "{{ messages[0].content[-1].text }}")


def test_fallback_incremental_decode_equals_full_decode():
    tokenizer = _metaspace_tokenizer()
    assert not tokenizer.is_byte_level()
    ids = tokenizer.encode("hello world the quick 日本 fox hello")
    deltas = _stream(tokenizer.incremental_decoder(), ids)
    assert "".join(deltas) == tokenizer.decode(ids)
    assert sum(1 for d in deltas if d) > 3  # it streams, it does not hold everything until flush


def test_cut_boundaries_are_line_ends_then_tag_ends(glm_tokenizer):
    lines, tags = glm_tokenizer.cut_boundaries()
    assert lines == glm_tokenizer.line_break_ids()
    assert glm_tokenizer.encode("</td>")[-1] in tags
    assert all(glm_tokenizer.decode([i]).endswith(">") for i in tags)
    assert not (set(glm_tokenizer.eos_ids) & (lines | tags))


# ---- a chat template from outside is data: bounded, and its faults are the checkpoint's -------------------------

HOSTILE_TEMPLATES = {
    "huge-repeat": "{{ 'a' * 4000000000 }}",
    "huge-power": "{{ 10 ** 100000 }}",
    "nested-loops": "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "long-output": "{% for i in range(9000) %}{{ 'abcdefghijklmnopqrstuvwxyz' * 26 }}{% endfor %}",
    "padding": "{{ 'a'.ljust(4000000000) }}",
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(HOSTILE_TEMPLATES))
def test_a_hostile_chat_template_fails_fast_with_a_model_error(synthetic_tokenizer_dir, tmp_path, name):
    folder = tmp_path / "model"
    _copy_tokenizer_files(synthetic_tokenizer_dir, folder, names=("tokenizer.json", "tokenizer_config.json"))
    (folder / "chat_template.jinja").write_text(HOSTILE_TEMPLATES[name], encoding="utf-8")
    tokenizer = GlmTokenizer.from_dir(folder)
    with pytest.raises(ModelError, match="chat_template.jinja"):
        tokenizer.encode_prompt("Text Recognition:", [4])


def test_a_template_without_an_image_slot_is_the_checkpoints_fault(synthetic_tokenizer_dir, tmp_path):
    folder = tmp_path / "model"
    _copy_tokenizer_files(synthetic_tokenizer_dir, folder, names=("tokenizer.json", "tokenizer_config.json"))
    (folder / "chat_template.jinja").write_text("[gMASK]<sop><|user|>{{ messages[0].content[-1].text }}",
                                                encoding="utf-8")
    with pytest.raises(ModelError, match="image slots"):
        GlmTokenizer.from_dir(folder).encode_prompt("Text Recognition:", [4])
