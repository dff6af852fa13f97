"""The download of a checkpoint from the Hugging Face Hub: resumable, verified file by file, never torch or Qt.

Why the download does not call ``hf_hub_download``: in the installed huggingface_hub (2.x) that function writes each
file to a uniquely named temporary file and deletes it when the transfer fails, so a download stopped by the user or by
a dropped connection starts again from zero, and it reads in 10 MB chunks with no stall timeout. A 2.2 GB model must
resume and stay cancellable, so huggingface_hub gives the file list and the URLs and headers, and each file is fetched
by ``transfer.fetch`` into a ``<name>.incomplete`` file that we keep between calls.

The same code fetches either published model (``hub.HUB_MODELS``: GLM-OCR, or the PP-DocLayoutV3 layout model),
named by ``kind``; the facts object says which files to fetch, which must be there and where the folder goes.
"""

from __future__ import annotations

import glob
import hashlib
import importlib
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import DownloadCancelled, ModelError
from ..paths import default_layout_model_dir, default_model_dir
from .hub import GLM_OCR, GLM_OCR_KIND, LAYOUT_KIND, HubModel, hub_model
from .layout import INCOMPLETE_SUFFIX, SHARD_NAME, VERIFIED_MARKER, read_marker
from .transfer import TransferError, TransferLimits, fetch

DEFAULT_FOLDERS = {GLM_OCR_KIND: default_model_dir, LAYOUT_KIND: default_layout_model_dir}


def _record_verified(folder: Path, repo_id: str, commit: str, remote: "RemoteFile | None") -> None:
    """Add one verified file to the marker (or, with remote=None, mark the whole download complete).

    Written after every file so a cancelled download never re-fetches or re-hashes what it already verified.
    """
    record = read_marker(folder) or {}
    if record.get("repo_id") != repo_id or record.get("commit") != commit:
        record = {"repo_id": repo_id, "commit": commit, "complete": False, "files": record.get("files", {})}
    if remote is None:
        record["complete"] = True
        record["verified_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    else:
        record["files"][remote.name] = {"size": remote.size, "sha256": remote.sha256, "git_oid": remote.git_oid}
    tmp = folder / (VERIFIED_MARKER + ".tmp")
    tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    os.replace(tmp, folder / VERIFIED_MARKER)



MANUAL_ALTERNATIVE = ("You can also download the files of {repo} ({files}) on another computer, copy them into one "
                      "folder, and pick that folder with \"Choose folder…\".")
FREE_SPACE_MARGIN = 200 * 1024 * 1024  # leave room for the OS and the verified marker
METADATA_TIMEOUT_S = 20.0
TRANSFER_LIMITS = TransferLimits()  # module data, so tests can shorten the stall timeout


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    sha256: str | None = None  # LFS files: the content's sha256
    git_oid: str | None = None  # plain git files: the blob's sha1 ("blob <size>\0" + content)


ProgressCallback = Callable[[int, int, float, float], None]  # bytes_done, bytes_total, bytes/s, seconds left


def _wanted(name: str, model: HubModel) -> bool:
    return name in model.wanted_names or SHARD_NAME.fullmatch(name) is not None


def list_remote_files(repo_id: str, revision: str, endpoint: str | None = None,
                      model: HubModel = GLM_OCR) -> tuple[str, list[RemoteFile]]:
    """(commit sha, files to fetch) from the Hub's file metadata. Raises ModelError for any failure."""
    from huggingface_hub import HfApi

    info = _call_hub(lambda: HfApi(endpoint=endpoint).model_info(
        repo_id, revision=revision, files_metadata=True, timeout=METADATA_TIMEOUT_S), repo_id, revision, endpoint,
        model)
    files = [RemoteFile(s.rfilename, int(s.lfs.size if s.lfs else s.size or 0),
                        s.lfs.sha256 if s.lfs else None, s.blob_id)
             for s in info.siblings or [] if _wanted(s.rfilename, model)]
    present = {f.name for f in files}
    absent = [item.name for item in model.required if item.name not in present
              and not (item.alternative and item.alternative.split(":")[0] in present)]
    if absent:
        raise ModelError(f"the repository {repo_id} at revision {revision} lacks {', '.join(absent)}: "
                         f"is it a {model.name} checkpoint?")
    return info.sha or revision, files


def _network_help(repo_id: str, model: HubModel) -> str:
    return MANUAL_ALTERNATIVE.format(repo=repo_id, files=", ".join(f.name for f in model.required))


def _call_hub(call, repo_id: str, revision: str, endpoint: str | None, model: HubModel):
    """Run one huggingface_hub call; any network or Hub failure becomes one readable ModelError."""
    try:
        return call()
    except Exception as exc:
        error = _hub_failure(exc, repo_id, revision, endpoint, model)
        if error is None:
            raise
        raise error from None


def _hub_failure(exc: BaseException, repo_id: str, revision: str, endpoint: str | None,
                 model: HubModel) -> ModelError | None:
    """The readable ModelError for a network or Hub failure, or None when ``exc`` is something else."""
    from huggingface_hub import constants, errors

    where = endpoint or constants.ENDPOINT
    if isinstance(exc, errors.OfflineModeIsEnabled):
        reason = "downloads are switched off (the HF_HUB_OFFLINE environment variable is set)."
    elif isinstance(exc, errors.GatedRepoError):
        reason = f"the repository {repo_id} needs you to log in and accept its terms on {where}."
    elif isinstance(exc, errors.RevisionNotFoundError):
        reason = f"the revision '{revision}' does not exist in {repo_id} on {where}."
    elif isinstance(exc, errors.RepositoryNotFoundError):
        reason = f"the repository {repo_id} was not found on {where}."
    elif isinstance(exc, errors.HfHubHTTPError):
        reason = f"the server {where} answered with an error ({exc})."
    elif isinstance(exc, json.JSONDecodeError):
        reason = (f"{where} answered with something other than the Hub's data (a proxy's or a network's login "
                  "page?).")
    elif isinstance(exc, _network_errors()):
        reason = f"cannot reach {where} ({exc.__class__.__name__}: {exc}). Are you offline, or is it blocked?"
    else:
        return None
    return ModelError(f"Download failed: {reason}\n{_network_help(repo_id, model)}")


def _network_errors() -> tuple[type, ...]:
    """Transport errors of whichever HTTP client this huggingface_hub uses (httpx2 in 2.x, httpx in 1.x)."""
    found: list[type] = [ConnectionError, TimeoutError]
    for module, name in (("httpx2", "HTTPError"), ("httpx", "HTTPError")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


class _Tracker:
    """Adds up bytes across files and works out speed and time left for the progress callback."""

    def __init__(self, total: int, done: int, callback: ProgressCallback | None):
        self.total, self.done_files, self.current = total, done, 0
        self.callback = callback
        self.samples: list[tuple[float, int]] = [(time.monotonic(), done)]
        self.lock = threading.Lock()

    def set_current(self, n: int) -> None:
        with self.lock:
            self.current = n
            self._report()

    def finish_file(self, size: int) -> None:
        with self.lock:
            self.done_files += size
            self.current = 0
            self._report()

    def _report(self) -> None:
        done = self.done_files + self.current
        now = time.monotonic()
        self.samples = [s for s in self.samples if now - s[0] <= 10.0] + [(now, done)]  # a 10 s window
        (t0, b0) = self.samples[0]
        speed = (done - b0) / (now - t0) if now > t0 else 0.0
        eta = (self.total - done) / speed if speed > 0 else float("inf")
        if self.callback:
            self.callback(done, self.total, speed, eta)


def file_digests(path: Path, cancel: threading.Event | None = None) -> tuple[str, str]:
    """(sha256 of the content, git blob sha1) in one pass over the file."""
    sha256, git = hashlib.sha256(), hashlib.sha1()
    git.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled()
            sha256.update(chunk)
            git.update(chunk)
    return sha256.hexdigest(), git.hexdigest()


def verify_file(path: Path, remote: RemoteFile, cancel: threading.Event | None = None) -> str | None:
    """None when the file matches the Hub's size and hash, else what is wrong."""
    size = path.stat().st_size
    if size != remote.size:
        return f"is {size} bytes but the Hub lists {remote.size} bytes"
    sha256, git_oid = file_digests(path, cancel)
    if remote.sha256 and sha256 != remote.sha256.lower():
        return f"sha256 is {sha256} but the Hub lists {remote.sha256}: the file is corrupted"
    if not remote.sha256 and remote.git_oid and git_oid != remote.git_oid.lower():
        return f"git hash is {git_oid} but the Hub lists {remote.git_oid}: the file is corrupted"
    return None


def _already_verified(folder: Path, remote: RemoteFile) -> bool:
    """A file the marker vouches for with the same hash and size needs neither download nor re-hash."""
    path = folder / remote.name
    recorded = (read_marker(folder) or {"files": {}})["files"].get(remote.name)
    return (path.is_file() and path.stat().st_size == remote.size and isinstance(recorded, dict)
            and recorded.get("size") == remote.size and recorded.get("sha256") == remote.sha256
            and recorded.get("git_oid") == remote.git_oid)


def _check_free_space(folder: Path, needed: int) -> None:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed + FREE_SPACE_MARGIN:
        raise ModelError(f"not enough free disk space: the download needs {_gb(needed)} more "
                         f"(plus {_gb(FREE_SPACE_MARGIN)} to spare) but only {_gb(free)} is free", folder)


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def partial_path(folder: Path, remote: RemoteFile) -> Path:
    """Where a file is downloaded to before it verifies. The name carries the expected hash, so a partial file from
    another revision of the repo is never resumed into this one."""
    tag = (remote.sha256 or remote.git_oid or "unknown")[:16]
    return folder / f"{remote.name}.{tag}{INCOMPLETE_SUFFIX}"


def _remove_stale_partials(folder: Path, remote: RemoteFile) -> None:
    keep = partial_path(folder, remote)
    for stale in folder.glob(f"{glob.escape(remote.name)}.*{INCOMPLETE_SUFFIX}"):
        if stale != keep:
            stale.unlink(missing_ok=True)


def _bytes_still_needed(folder: Path, files: list[RemoteFile]) -> int:
    needed = 0
    for remote in files:
        partial = partial_path(folder, remote)
        needed += remote.size - (partial.stat().st_size if partial.is_file() else 0)
    return max(needed, 0)


def _fetch_file(url: str, folder: Path, remote: RemoteFile, tracker: _Tracker, cancel: threading.Event) -> Path:
    """Download one file into <name>.incomplete, resuming from what is already there."""
    from huggingface_hub.utils import build_hf_headers

    partial = partial_path(folder, remote)
    partial.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(folder, remote)
    if partial.is_file() and partial.stat().st_size > remote.size:
        partial.unlink()  # longer than the real file: cannot be a prefix of it
    tracker.set_current(partial.stat().st_size if partial.is_file() else 0)
    fetch(url, partial, remote.size, build_hf_headers(), cancel, tracker.set_current, TRANSFER_LIMITS)
    return partial


def _fetch_and_verify(url: str, folder: Path, remote: RemoteFile, tracker: _Tracker,
                      cancel: threading.Event, status: Callable[[str], None]) -> None:
    status(f"Downloading {remote.name}")
    partial = _fetch_file(url, folder, remote, tracker, cancel)
    status(f"Verifying {remote.name}")
    wrong = verify_file(partial, remote, cancel)
    if wrong:
        partial.unlink(missing_ok=True)
        raise ModelError(f"the downloaded {remote.name} {wrong}. It was deleted; start the download again.",
                         folder / remote.name)
    os.replace(partial, folder / remote.name)


def _present_and_valid(folder: Path, remote: RemoteFile, cancel: threading.Event) -> bool:
    """A file already in place (copied in, or finished before a cancel) is kept when it verifies."""
    path = folder / remote.name
    if not (path.is_file() and path.stat().st_size == remote.size):
        return False
    return verify_file(path, remote, cancel) is None


def download_model(repo_id: str | None = None, revision: str | None = None,
                   target_dir: str | Path | None = None, endpoint: str | None = None,
                   progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
                   status: Callable[[str], None] | None = None, kind: str = GLM_OCR_KIND) -> Path:
    """Fetch the checkpoint's files into target_dir, verify each against the Hub, and mark the folder ready.

    ``kind`` names the model (``hub.HUB_MODELS``: "glm-ocr", the default, or "layout"); ``repo_id``, ``revision``
    and ``target_dir`` default to that model's repository, branch and user folder. Resumes partial files from
    earlier calls. Raises ModelError with a readable message (and the manual alternative when the Hub cannot be
    reached) or DownloadCancelled when ``cancel`` is set. ``progress`` gets (bytes_done, bytes_total, bytes_per_s,
    seconds_left); ``status`` gets a short text for each stage.
    """
    try:
        model = hub_model(kind)
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    repo_id, revision = repo_id or model.repo_id, revision or model.revision
    folder = Path(target_dir) if target_dir else DEFAULT_FOLDERS[model.kind]()
    cancel = cancel or threading.Event()
    status = status or (lambda text: None)
    endpoint = endpoint.rstrip("/") if endpoint else None
    status("Asking the Hub for the file list")
    commit, files = list_remote_files(repo_id, revision, endpoint, model)
    _make_folder(folder)
    todo = [f for f in files if not _already_verified(folder, f)]
    _check_free_space(folder, _bytes_still_needed(folder, todo))
    tracker = _Tracker(sum(f.size for f in files), sum(f.size for f in files if f not in todo), progress)
    tracker.set_current(0)
    for remote in todo:
        if cancel.is_set():
            raise DownloadCancelled()
        _download_one(repo_id, commit, endpoint, folder, remote, tracker, cancel, status, model)
    _record_verified(folder, repo_id, commit, None)
    status("Ready")
    return folder


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the model folder ({exc.strerror or exc})", folder) from None


def _download_one(repo_id: str, commit: str, endpoint: str | None, folder: Path, remote: RemoteFile,
                  tracker: _Tracker, cancel: threading.Event, status: Callable[[str], None], model: HubModel) -> None:
    from huggingface_hub import hf_hub_url

    url = hf_hub_url(repo_id, remote.name, revision=commit, endpoint=endpoint)
    try:
        if not _present_and_valid(folder, remote, cancel):
            _fetch_and_verify(url, folder, remote, tracker, cancel, status)
    except (DownloadCancelled, ModelError):
        raise
    except Exception as exc:
        raise _transfer_error(exc, repo_id, commit, endpoint, folder / remote.name, model) from None
    _record_verified(folder, repo_id, commit, remote)
    tracker.finish_file(remote.size)


def _transfer_error(exc: Exception, repo_id: str, commit: str, endpoint: str | None, path: Path,
                    model: HubModel) -> Exception:
    hub = _hub_failure(exc, repo_id, commit, endpoint, model)
    if hub is not None:
        return hub
    if isinstance(exc, TransferError):
        return ModelError(f"the download failed: {exc}. Start it again to resume where it stopped.", path)
    if isinstance(exc, OSError):
        return ModelError(f"cannot write the file ({exc.strerror or exc})", path)
    return exc
