"""A plain description of the machine a benchmark ran on (CPU model and the flags that matter for matmuls)."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from glmocr_core.runtime.devices import CpuFeatures, cpuinfo_fields, parse_cpuinfo, read_proc_cpuinfo

# CPU features that decide which kernels win: AVX-512 (fp32), VNNI (int8 dot products), BF16 and AMX (bf16 math).
RELEVANT_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
# the table of docs/performance.md this machine's rows belong to, by the first flag it has
CPU_KINDS = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 + BF16"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))


def cpu_model_and_flags(cpuinfo: str) -> tuple[str, set[str]]:
    """The first processor's model name and feature flags from /proc/cpuinfo text (the core's parser)."""
    cpu = parse_cpuinfo(cpuinfo)
    return cpu.model or platform.processor() or "unknown", set(cpu.flags)


def cpu_generation(cpuinfo: str) -> str:
    """The first processor's family, model and stepping ("family 25, model 17, stepping 1"), or "". VMs often
    report one model name ("AMD EPYC") for several generations whose vector units differ two-fold."""
    fields = cpuinfo_fields(cpuinfo)
    parts = [f"{name} {fields[key]}" for key, name in (("cpu family", "family"), ("model", "model"),
                                                        ("stepping", "stepping")) if fields.get(key)]
    return ", ".join(parts)


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def git_revision(repo: Path) -> str:
    """The last commit that touched glmocr_core/ (other people's commits elsewhere do not change what is
    measured), flagged when glmocr_core/ has uncommitted edits."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("log", "-1", "--format=%h", "--", "glmocr_core")
        dirty = git("status", "--porcelain", "--", "glmocr_core")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"glmocr_core at {commit}" + (" + uncommitted changes" if dirty else "")


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_kind(description: dict) -> str:
    """The kind of CPU a run measured ("AMD EPYC, AVX2"): one table per kind in docs/performance.md."""
    flags = description.get("flags", {})
    kind = next((name for flag, name in CPU_KINDS if flags.get(flag)), "no AVX2")
    vendor = "Intel" if "intel" in description["cpu"].lower() else "AMD" if "amd" in description["cpu"].lower() \
        else description["cpu"]
    return f"{vendor}, {kind}"


def fast_bf16(description: dict) -> bool:
    """Whether a described machine has bf16 matrix units (AVX512-BF16 or AMX)."""
    flags = description.get("flags", {})
    return bool(flags.get("avx512_bf16") or flags.get("amx_bf16"))


def policy(cpu: CpuFeatures) -> dict:
    """Every machine-dependent decision the core makes here, as data for the report."""
    from glmocr_core.runtime import devices

    recipe = devices.fast_recipe(cpu)
    return {"auto_precision": devices.resolve_precision("auto", "cpu", cpu), "auto_reason": devices.auto_reason(cpu),
            "fast_bf16_gemms": recipe.bf16_gemms, "fast_vision_bf16": recipe.vision_bf16}


def describe(repo: Path) -> dict:
    cpuinfo = read_proc_cpuinfo() or ""
    model, flags = cpu_model_and_flags(cpuinfo)
    return {"cpu": model, "cpu_generation": cpu_generation(cpuinfo),
            "flags": {flag: flag in flags for flag in RELEVANT_FLAGS},
            "policy": policy(CpuFeatures(frozenset(flags), model)),
            "logical_cores": os.cpu_count(), "memory_gib": round(memory_gib(), 1),
            "os": platform.platform(), "python": platform.python_version(), "torch": package_version("torch"),
            "transformers": package_version("transformers"), "git": git_revision(repo),
            "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}
