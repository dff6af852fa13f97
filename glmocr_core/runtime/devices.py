"""Device and dtype policy, and a plain-data list of the compute devices this machine has.

Auto device order: CUDA, then Apple MPS, then CPU. Compute dtype: CPUs compute in fp32 (in "fast" precision bf16
when they have native bf16 matrix units, AVX512-BF16 or AMX, where it pays); CUDA uses bf16, or fp16 on GPUs without bf16 (T4, V100);
MPS uses fp16. ``list_devices`` imports torch lazily so the GUI can call it without loading the model stack early.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from ..errors import UsageError

DEVICES = ("auto", "cpu", "cuda", "mps")
# auto: the device's best exact-enough setting (fp32 on CPUs, bf16/fp16 on GPUs); exact: fp32 everywhere;
# fast: fewer bytes per token (int8 decoder weights on CPUs)
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
    """The compute dtype. An explicit dtype wins; "exact" precision is fp32 on every device (token-for-token
    the reference's fp32 output); "auto" and "fast" follow the device policy above (``cpu``: this machine's
    features unless given)."""
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
    return torch.bfloat16 if precision == "fast" and (cpu or host_cpu()).fast_bf16 else torch.float32


BF16_MATRIX_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class CpuFeatures:
    """The instruction-set flags the policies look at. Tests inject these instead of reading the machine's."""

    flags: frozenset[str] = frozenset()
    model: str = ""

    @property
    def fast_bf16(self) -> bool:
        """bf16 matrix instructions (AVX512-BF16 or AMX): only there are bf16 matmuls faster than fp32."""
        return bool(BF16_MATRIX_FLAGS & self.flags)


def parse_cpuinfo(text: str) -> CpuFeatures:
    """The first processor's flags and model name from /proc/cpuinfo text (ARM kernels say "Features")."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = fields.get("flags") or fields.get("Features") or ""
    return CpuFeatures(frozenset(flags.split()), fields.get("model name", ""))


@functools.cache
def host_cpu() -> CpuFeatures:
    """This machine's CPU (Linux /proc/cpuinfo); no flags elsewhere, which keeps every policy exact and safe."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return parse_cpuinfo(handle.read())
    except OSError:
        return CpuFeatures()


def precision_summary(precision: str, cpu: CpuFeatures | None = None) -> str:
    """What a precision does on a CPU, in a user's words (the settings dialog and ``glmocr-studio info``)."""
    cpu = cpu or host_cpu()
    if precision == "fast":
        compute = "bf16 compute (this CPU has bf16 matrix units)" if cpu.fast_bf16 else "fp32 compute"
        return f"int8 decoder weights, {compute}: about 3x faster decoding, output close to exact"
    if precision == "exact":
        return "fp32 everywhere: token for token the reference output"
    return "fp32 on CPUs, bf16 or fp16 on GPUs"
