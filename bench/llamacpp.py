"""llama.cpp as the benchmark's second reference: build it here, convert the benchmark checkpoint, time it.

    python -m bench.llamacpp build     # the llama.cpp vendored in llama-cpp-python's sdist; ~11 min on 2 cores
    python -m bench.llamacpp convert   # the benchmark checkpoint -> text GGUF f16, Q8_0, Q4_K_M + vision f16
    python -m bench.llamacpp run VARIANT TOKENS THREADS RESULT.json     # one timed run (what bench.jobs calls)

Once ``build`` and ``convert`` are done, ``python -m bench.run`` adds llama.cpp's rows to its table. What made it
work on this project's machines: the source vendored in ``llama-cpp-python==0.3.36`` (it has GLM-OCR support); a
CPU build with every ISA flag of the machine but AMX (its AMX path crashed with SIGILL on quantized models);
conversion with its ``convert_hf_to_gguf.py`` under this environment's transformers, after giving the random
checkpoint the real repository's layer-16 (MTP) tensors and mapping the synthetic tokenizer's pre-tokenizer to
``glm4``. llama.cpp stalls badly when the cores are shared: measure on a quiet machine and say so.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "out" / "llamacpp"
SDIST = "llama-cpp-python==0.3.36"
SOURCE = WORK / "llama_cpp_python-0.3.36" / "vendor" / "llama.cpp"  # the archive unpacks to this name
BIN = SOURCE / "build" / "bin"
CMAKE_FLAGS = ["-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=OFF", "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF",
               "-DGGML_AMX_BF16=OFF", "-DLLAMA_CURL=OFF", "-DGGML_OPENMP=ON"]
# ggml's ISA switches, by the /proc/cpuinfo flag that allows each. Not GGML_NATIVE: -march=native defines
# __AMX_INT8__ on an AMX CPU whatever GGML_AMX_* say, and that AMX path dies with SIGILL here (ldtilecfg).
ISA_OPTIONS = {"sse4_2": "GGML_SSE42", "avx": "GGML_AVX", "avx2": "GGML_AVX2", "bmi2": "GGML_BMI2", "fma": "GGML_FMA",
               "f16c": "GGML_F16C", "avx_vnni": "GGML_AVX_VNNI", "avx512f": "GGML_AVX512",
               "avx512vbmi": "GGML_AVX512_VBMI", "avx512_vnni": "GGML_AVX512_VNNI", "avx512_bf16": "GGML_AVX512_BF16"}
TARGETS = ("llama-mtmd-cli", "llama-quantize")
VARIANTS = {"f16": "F16", "q8_0": "Q8_0", "q4_k_m": "Q4_K_M"}  # name -> llama-quantize type
PROMPT = "Text Recognition:"


def gguf_dir() -> Path:
    return WORK / "gguf"


def text_model(variant: str) -> Path:
    return gguf_dir() / f"text-{variant}.gguf"


def vision_model() -> Path:
    return gguf_dir() / "mmproj-f16.gguf"


def build_present() -> bool:
    """True when the binaries and every converted model exist: then bench.run adds llama.cpp's rows."""
    files = [BIN / name for name in TARGETS] + [text_model(v) for v in VARIANTS] + [vision_model()]
    return all(path.exists() for path in files)


# ------------------------------------------------------------------------------------------------ build


def build() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    if not SOURCE.exists():
        with tarfile.open(download_sdist()) as tar:
            tar.extractall(WORK, filter="data")
    subprocess.run(["cmake", "-S", str(SOURCE), "-B", str(SOURCE / "build"), *cmake_flags(cpu_flags())], check=True)
    subprocess.run(["cmake", "--build", str(SOURCE / "build"), "--config", "Release", "-j", "--target", *TARGETS],
                   check=True)


def cpu_flags() -> set[str]:
    from glmocr_core.runtime.devices import read_proc_cpuinfo

    from .machine import cpu_model_and_flags

    return cpu_model_and_flags(read_proc_cpuinfo() or "")[1]


def cmake_flags(flags: set[str]) -> list[str]:
    """The configure flags for a CPU with these /proc/cpuinfo flags: every ISA it has but AMX."""
    return CMAKE_FLAGS + [f"-D{option}={'ON' if flag in flags else 'OFF'}" for flag, option in ISA_OPTIONS.items()]


def download_sdist() -> Path:
    """The sdist archive itself, checked against PyPI's sha256. Not ``pip download``: pip would prepare the sdist's
    metadata, which with ``--no-binary :all:`` means building its build tools (cmake, ninja...) from source first."""
    import hashlib

    import httpx

    name, version = SDIST.split("==")
    index = httpx.get(f"https://pypi.org/simple/{name}/", timeout=30,  # the simple index's JSON form (PEP 691)
                      headers={"Accept": "application/vnd.pypi.simple.v1+json"}).raise_for_status().json()
    filename = f"{name.replace('-', '_')}-{version}.tar.gz"
    sdist = next(f for f in index["files"] if f["filename"] == filename)
    archive, digest = WORK / filename, sdist["hashes"]["sha256"]
    if not archive.exists() or hashlib.sha256(archive.read_bytes()).hexdigest() != digest:
        with httpx.stream("GET", sdist["url"], timeout=60, follow_redirects=True) as reply:
            reply.raise_for_status()
            with open(archive.with_suffix(".part"), "wb") as out:
                for chunk in reply.iter_bytes(1 << 20):
                    out.write(chunk)
        archive.with_suffix(".part").replace(archive)
    if hashlib.sha256(archive.read_bytes()).hexdigest() != digest:
        raise SystemExit(f"{archive.name}: sha256 differs from PyPI's")
    return archive


# ------------------------------------------------------------------------------------------------ convert


def convert(checkpoint: Path) -> None:
    """Text GGUF in f16 then quantized, and the vision projector in f16, from a copy of the benchmark checkpoint
    with MTP tensors (the converter expects the layer the real repository ships)."""
    folder = with_mtp_tensors(checkpoint, WORK / "ckpt-real-mtp")
    gguf_dir().mkdir(parents=True, exist_ok=True)
    converter = [sys.executable, "-m", "bench.llamacpp_convert", str(SOURCE), str(folder)]
    subprocess.run([*converter, "--outtype", "f16", "--outfile", str(text_model("f16"))], check=True, cwd=REPO)
    subprocess.run([*converter, "--mmproj", "--outtype", "f16", "--outfile", str(vision_model())], check=True,
                   cwd=REPO)
    for variant, kind in VARIANTS.items():
        if variant != "f16":
            subprocess.run([str(BIN / "llama-quantize"), str(text_model("f16")), str(text_model(variant)), kind],
                           check=True)


def with_mtp_tensors(checkpoint: Path, target: Path) -> Path:
    """The checkpoint's files linked into ``target`` plus ``model-mtp.safetensors``: a random layer 16 with the real
    repository's tensor names (including its copies of the embedding and the head)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    from glmocr_core.model.config import load_model_config
    from glmocr_core.model.decoder import MtpLayer

    target.mkdir(parents=True, exist_ok=True)
    for file in checkpoint.iterdir():
        link = target / file.name
        if file.is_file() and not link.exists():
            link.symlink_to(file.resolve())
    mtp_file = target / "model-mtp.safetensors"  # the converter reads the files whose names start with "model"
    if mtp_file.exists():
        return target
    cfg = load_model_config(checkpoint)
    torch.manual_seed(16)
    layer = MtpLayer(cfg.text)
    prefix = f"model.language_model.layers.{cfg.text.num_hidden_layers}."
    state = {prefix + name: t.detach().bfloat16().contiguous() for name, t in layer.state_dict().items()}
    with safe_open(str(checkpoint / "model.safetensors"), "pt") as weights:  # reads just these two tensors
        state[prefix + "embed_tokens.weight"] = weights.get_tensor("model.language_model.embed_tokens.weight")
        state[prefix + "shared_head.head.weight"] = weights.get_tensor("lm_head.weight")
    save_file(state, str(mtp_file), metadata={"format": "pt"})
    return target


# ------------------------------------------------------------------------------------------------ run


PERF = {  # what llama-mtmd-cli --perf -lv 4 prints, and the numbers each line gives (ms, count)
    "encode_ms": re.compile(r"(?:image slice encoded|mtmd batch encoding done) in (\d+(?:\.\d+)?) ms"),
    "image_tokens": re.compile(r"n_tokens_batch = (\d+)"),
    "image_decode_ms": re.compile(r"image decoded \(batch \d+/\d+\) in (\d+(?:\.\d+)?) ms"),
    "prompt_eval": re.compile(r"prompt eval time =\s*(\d+(?:\.\d+)?) ms /\s*(\d+) tokens"),
    "eval_ms": re.compile(r"\s eval time =\s*(\d+(?:\.\d+)?) ms /\s*(\d+) runs"),
}


def parse_perf(text: str) -> dict:
    """First token (image encode + image batch + text prompt) and decode rate from llama.cpp's timing lines."""
    found = {name: pattern.findall(text) for name, pattern in PERF.items()}
    if not found["eval_ms"]:
        raise ValueError("no 'eval time' line in llama.cpp's output (did it run with --perf -lv 4?)")
    eval_ms, runs = map(float, found["eval_ms"][-1])
    prompt_ms, prompt_tokens = map(float, found["prompt_eval"][-1]) if found["prompt_eval"] else (0.0, 0.0)
    return {"ttft_s": first_token_ms(sum(map(float, found["encode_ms"])), sum(map(float, found["image_decode_ms"])),
                                     sum(map(int, found["image_tokens"])), prompt_ms, prompt_tokens) / 1e3,
            "decode_tok_s": runs / (eval_ms / 1e3) if eval_ms else 0.0, "new_tokens": int(runs) + 1}


def first_token_ms(encode_ms: float, image_ms: float, image_tokens: int, prompt_ms: float,
                   prompt_tokens: float) -> float:
    """What llama.cpp's prompt timer covers changed between versions, so count every part once: the 0.3.36 one runs
    from the first prompt chunk to the sync after the image batch (the encode in between included); older ones
    timed the text chunks alone, or the text and the image batch but not the encode."""
    if prompt_ms >= encode_ms + image_ms:
        return prompt_ms
    if image_tokens and prompt_tokens >= image_tokens:
        return encode_ms + prompt_ms
    return encode_ms + image_ms + prompt_ms


def run(variant: str, tokens: int, threads: int) -> dict:
    """One llama-mtmd-cli process on the benchmark's region image; its peak RSS is this process's only child's."""
    from . import inputs

    image = WORK / "region.png"
    inputs.region_image().save(image)
    command = [str(BIN / "llama-mtmd-cli"), "-m", str(text_model(variant)), "--mmproj", str(vision_model()),
               "--image", str(image), "-p", PROMPT, "-t", str(threads), "--temp", "0", "-n", str(tokens),
               "--ignore-eos", "-c", "4096", "--perf", "-lv", "4"]  # its timing lines are info-level logs
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {"variant": variant, "wall_s": wall, "peak_rss_bytes": peak,
            "runs": [parse_perf(done.stdout + done.stderr)]}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("build", "convert", "run"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "build":
        build()
    elif argv[0] == "convert":
        from . import checkpoint as ckpt

        convert(ckpt.ensure_checkpoint("real", REPO / "bench" / "out" / "ckpt-real"))
    else:
        variant, tokens, threads, result = argv[1], int(argv[2]), int(argv[3]), Path(argv[4])
        result.write_text(json.dumps(run(variant, tokens, threads)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
