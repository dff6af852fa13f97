"""Human-readable sizes, speeds and durations for the download progress line."""

from __future__ import annotations

import math

UNITS = ("B", "KB", "MB", "GB", "TB")


def human_bytes(n: float) -> str:
    """Decimal units, as disks and the Hub report sizes: 2_200_000_000 -> '2.2 GB'."""
    if n < 1000:
        return f"{int(n)} B"
    power = min(int(math.log(n, 1000)), len(UNITS) - 1)
    value = n / 1000**power
    return f"{value:.1f} {UNITS[power]}" if value < 100 else f"{value:.0f} {UNITS[power]}"


def human_speed(bytes_per_s: float) -> str:
    return f"{human_bytes(bytes_per_s)}/s" if bytes_per_s > 0 else "—"


def human_eta(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "estimating…"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s left"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s left"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min left"


def progress_line(done: int, total: int, speed: float, eta: float) -> str:
    """'1.2 GB of 2.2 GB · 8.4 MB/s · 2 min 05 s left'"""
    return f"{human_bytes(done)} of {human_bytes(total)} · {human_speed(speed)} · {human_eta(eta)}"
