"""Device, precision and dtype policy, and a plain-data list of the compute devices this machine has.

Auto device order: CUDA, then Apple MPS, then CPU. Precision on CPUs: "exact" is fp32 everywhere; "fast" is int8
decoder weights in groups with bf16 activations (``runtime.quantize``), bf16 vision and big GEMMs only on CPUs with
bf16 matrix units (AVX512-BF16 or AMX), where they pay; "auto" picks "fast" where the CPU runs its kernel and the
accuracy study's verdict (``accuracy_verdict.json``, written by ``bench/quant_study.py``) says it meets the bar,
else "exact". Compute dtype: CPUs keep fp32 models (the fast recipe narrows its own parts); CUDA uses bf16, or fp16 on
GPUs without bf16 (T4, V100); MPS uses fp16. ``list_devices`` imports torch lazily so the GUI can call it without
loading the model stack early; nothing here imports torch at import time.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UsageError

DEVICES = ("auto", "cpu", "cuda", "mps")
# auto: the fastest setting that meets the accuracy bar (fast or exact on CPUs, bf16/fp16 on GPUs); exact: fp32
# everywhere; fast: fewer bytes per token (int8 decoder weights on CPUs)
PRECISIONS = ("auto", "exact", "fast")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class DeviceInfo:
    name: str  # "cpu", "cuda:0", "mps"
    kind: str  # "cpu" | "cuda" | "mps"
    description: str
    memory_bytes: int = 0


def list_devices() -> list[DeviceInfo]:
    import torch

    found = [DeviceInfo("cpu", "cpu", f"CPU ({os.cpu_count()} logical cores)")]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            found.append(DeviceInfo(f"cuda:{index}", "cuda", props.name, props.total_memory))
    if _mps_available():
        found.append(DeviceInfo("mps", "mps", "Apple GPU (Metal)"))
    return found


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(requested: str = "auto") -> str:
    """'auto' -> the best available device; an explicit device that is missing is a UsageError."""
    import torch

    kind = requested.split(":")[0]
    if kind not in DEVICES:
        raise UsageError(f"unknown device {requested!r}; choose one of: {', '.join(DEVICES)}")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if kind == "cuda" and not torch.cuda.is_available():
        raise UsageError("CUDA was requested but no CUDA GPU is available to PyTorch")
    if kind == "mps" and not _mps_available():
        raise UsageError("Apple MPS was requested but is not available on this machine")
    return requested


def resolve_dtype(requested: str, device: str, precision: str = "auto", cpu: CpuFeatures | None = None):
    """The model's dtype. An explicit dtype wins; "exact" precision is fp32 on every device (token-for-token
    the reference's fp32 output); on GPUs "auto" and "fast" are half precision; CPUs keep fp32 models in every
    precision, since fast precision narrows only its own parts (``fast_recipe``; ``cpu`` is kept for callers that
    pass this machine's features)."""
    import torch

    if requested not in DTYPES:
        raise UsageError(f"unknown dtype {requested!r}; choose one of: {', '.join(DTYPES)}")
    if requested != "auto":
        return getattr(torch, requested)
    if precision == "exact":
        return torch.float32
    kind = device.split(":")[0]
    if kind == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if kind == "mps":
        return torch.float16
    return torch.float32  # CPUs: fast precision narrows its own parts (runtime.quantize); the rest stays fp32


BF16_MATRIX_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class CpuFeatures:
    """The instruction-set flags the policies look at. Tests inject these instead of reading the machine's."""

    flags: frozenset[str] = frozenset()
    model: str = ""
    known: bool = True  # False: the flags could not be read yet (no /proc/cpuinfo and torch not loaded)

    @property
    def fast_bf16(self) -> bool:
        """bf16 matrix instructions (AVX512-BF16 or AMX): only there are bf16 matmuls faster than fp32."""
        return bool(BF16_MATRIX_FLAGS & self.flags)


def cpuinfo_fields(text: str) -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo text ("model name", "flags", "cpu family", ...)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def parse_cpuinfo(text: str) -> CpuFeatures:
    """The first processor's flags and model name from /proc/cpuinfo text (ARM kernels say "Features")."""
    fields = cpuinfo_fields(text)
    flags = fields.get("flags") or fields.get("Features") or ""
    return CpuFeatures(frozenset(flags.split()), fields.get("model name", ""))


CPU_FLAGS_ENV = "GLMOCR_CPU_FLAGS"  # set: these space-separated flags stand in for the CPU's own (tests, diagnosis)
# Where there is no /proc/cpuinfo (Windows, macOS): torch's own CPU probes, under the Linux flag names
TORCH_CPU_PROBES = {"avx2": "_is_avx2_supported", "avx512f": "_is_avx512_supported",
                    "avx512_bf16": "_is_avx512_bf16_supported", "amx_tile": "_is_amx_tile_supported"}
_HOST_CPU: list[CpuFeatures] = []  # the answer, once it is known


def host_cpu() -> CpuFeatures:
    """This machine's CPU, read once it can be known (``current_cpu``)."""
    if _HOST_CPU:
        return _HOST_CPU[0]
    cpu = current_cpu()
    if cpu.known:
        _HOST_CPU.append(cpu)
    return cpu


def current_cpu(read_cpuinfo: Callable[[], str | None] | None = None,
                processor: Callable[[], str] = platform.processor,
                loaded_torch: Callable[[], object | None] | None = None) -> CpuFeatures:
    """The CPU's flags from Linux's /proc/cpuinfo, else from torch's probes once torch is loaded (importing it
    here would stall a window for seconds); ``known`` is False before that. With ``GLMOCR_CPU_FLAGS`` set, the
    policies see those flags instead: the test suite sets it empty so that what "auto" picks never depends on the
    machine the suite runs on. The three sources (the cpuinfo text or None where there is none, the processor's
    name, the loaded torch module or None) are this machine's unless given: tests give their own."""
    cpu = cpu_from(read_cpuinfo() if read_cpuinfo else read_proc_cpuinfo(), processor,
                   loaded_torch() if loaded_torch else sys.modules.get("torch"))
    override = os.environ.get(CPU_FLAGS_ENV)
    if override is None:
        return cpu
    return CpuFeatures(frozenset(override.split()), f"{cpu.model} (flags from {CPU_FLAGS_ENV})".lstrip())


CACHE_SYSFS = Path("/sys/devices/system/cpu/cpu0/cache")


def last_level_cache_bytes(cache_dir: Path = CACHE_SYSFS) -> int | None:
    """The largest CPU cache cpu0 sees (Linux sysfs: "index3/size" reads "480M" on some Xeons); None elsewhere."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    sizes = []
    for size_file in sorted(cache_dir.glob("index*/size")):
        try:
            text = size_file.read_text(encoding="ascii").strip()
            sizes.append(int(text[:-1]) * units[text[-1]] if text[-1:] in units else int(text))
        except (OSError, ValueError):
            continue
    return max(sizes, default=None)


def read_proc_cpuinfo() -> str | None:
    """/proc/cpuinfo's text; None where there is no such file (Windows, macOS)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def cpu_from(cpuinfo: str | None, processor: Callable[[], str], torch) -> CpuFeatures:
    if cpuinfo is not None:
        return parse_cpuinfo(cpuinfo)
    if torch is None:
        return CpuFeatures(model=processor(), known=False)
    return CpuFeatures(torch_cpu_flags(torch), processor())


def torch_cpu_flags(torch) -> frozenset[str]:
    flags = set()
    for flag, probe in TORCH_CPU_PROBES.items():
        check = getattr(getattr(torch, "cpu", None), probe, None)
        try:
            if check is not None and check():
                flags.add(flag)
        except RuntimeError:  # a probe this build lacks on this architecture
            pass
    return frozenset(flags)


def precision_summary(precision: str, cpu: CpuFeatures | None = None) -> str:
    """What a precision does on a CPU, in a user's words (the settings dialog and ``glmocr-studio info``)."""
    cpu = cpu or host_cpu()
    if precision == "fast":
        recipe = fast_recipe(cpu)
        vision = "bf16 vision (this CPU has bf16 matrix units)" if recipe.vision_bf16 else "fp32 vision"
        accuracy = "as close to exact as the model authors' bf16" if meets_bar(FAST_RECIPE) else "close to exact"
        return (f"int8 decoder weights in groups of 32 with bf16 activations, {vision}: about 2x the decode rate of "
                f"exact, {accuracy}")
    if precision == "exact":
        return "fp32 everywhere: token for token the reference output"
    if not cpu.known:
        reason = auto_reason(cpu)
        return f"{reason[:1].upper()}{reason[1:]}. GPUs use bf16 or fp16."
    chosen = resolve_precision("auto", "cpu", cpu)
    return f"{chosen.capitalize()} on this CPU: {auto_reason(cpu)}. GPUs use bf16 or fp16."


# ------------------------------------------------------------------------------------------------ fast precision

VERDICT_FILE = Path(__file__).with_name("accuracy_verdict.json")  # written by bench/quant_study.py --verdict
FAST_RECIPE = "int8-groups"  # the verdict entries "auto" and the fast recipe read
VISION_BF16_RECIPE = "int8-groups+vision-bf16"
# x86 vector units the 4-bit group kernel has fast paths for (torch's AVX2 and AVX-512 builds of it)
FAST_KERNEL_FLAGS = frozenset({"avx2", "avx512f"})


@dataclass(frozen=True)
class FastRecipe:
    """What "fast" narrows on a CPU beyond the int8-group decoder weights."""

    bf16_gemms: bool  # prefill GEMMs over dequantized weights in bf16 (else fp32)
    vision_bf16: bool  # the vision tower in bf16


def fast_recipe(cpu: CpuFeatures | None = None, verdict: dict | None = None) -> FastRecipe:
    cpu = cpu or host_cpu()
    return FastRecipe(bf16_gemms=cpu.fast_bf16,
                      vision_bf16=cpu.fast_bf16 and meets_bar(VISION_BF16_RECIPE, verdict))


def resolve_precision(requested: str, device: str, cpu: CpuFeatures | None = None, verdict: dict | None = None) -> str:
    """The precision a load uses: "exact" and "fast" as asked; "auto" on a CPU is "fast" where the CPU has the
    vector units its kernel is fast with and the study's verdict says fast meets the accuracy bar, else "exact";
    "auto" on a GPU stays "auto" (the device's half precision, see ``resolve_dtype``)."""
    if requested not in PRECISIONS:
        raise UsageError(f"unknown precision {requested!r}; choose one of: {', '.join(PRECISIONS)}")
    if requested != "auto" or device.split(":")[0] != "cpu":
        return requested
    return "fast" if _fast_pays(cpu or host_cpu()) and meets_bar(FAST_RECIPE, verdict) else "exact"


def _fast_pays(cpu: CpuFeatures) -> bool:
    return bool(FAST_KERNEL_FLAGS & cpu.flags)


def auto_reason(cpu: CpuFeatures | None = None, verdict: dict | None = None) -> str:
    """Why "auto" picks what it picks on ``cpu``, in one clause."""
    cpu = cpu or host_cpu()
    if not cpu.known:
        return "chosen when the model loads: fast where the CPU has AVX2 or AVX-512, else exact"
    if not _fast_pays(cpu):
        return "its vector units have no fast int8-group kernel"
    entry = (verdict if verdict is not None else load_verdict()).get("recipes", {}).get(FAST_RECIPE)
    if entry is None:
        return "no accuracy verdict for fast precision yet"
    figures = (f"agreeing with fp32 on {entry['top1']:.1%} of tokens (mean KL {entry['kl']:.4f}) where the model "
               f"authors' bf16 agrees on {entry['bar_top1']:.1%} ({entry['bar_kl']:.4f})")
    return ("it meets the accuracy bar, " if entry["meets_bar"] else "fast misses the accuracy bar, ") + figures


def meets_bar(recipe: str, verdict: dict | None = None) -> bool:
    entry = (verdict if verdict is not None else load_verdict()).get("recipes", {}).get(recipe)
    return bool(entry and entry.get("meets_bar"))


@functools.cache
def load_verdict() -> dict:
    """The accuracy study's verdict as data; an empty verdict (nothing meets the bar) when the file is missing."""
    try:
        return json.loads(VERDICT_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
