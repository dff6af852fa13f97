"""download_model against a real HTTP server on 127.0.0.1 that speaks the Hub's URL paths (huggingface_hub for the
file list, our own bounded transfer for the files).

The server answers the two requests the installed huggingface_hub makes for us: the model info API with file
metadata (GET /api/models/{repo}/revision/{rev}?blobs=True) and file downloads (GET /{repo}/resolve/{commit}/{name},
with Range support). LFS files redirect to a /cdn/ path, as the real Hub redirects to its CDN.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading

import pytest

import glmocr_core.checkpoint.download as download
from glmocr_core.checkpoint.check import check_model_dir
from glmocr_core.checkpoint.download import DownloadCancelled, download_model
from glmocr_core.checkpoint.hub import DEFAULT_REPO_ID, HUB_MODELS, LAYOUT_KIND, LAYOUT_MODEL
from glmocr_core.checkpoint.layout import INCOMPLETE_SUFFIX, VERIFIED_MARKER, WEIGHTS_FILE, read_marker
from glmocr_core.errors import ModelError
from glmocr_core.layout.folder import check_layout_dir
from glmocr_core.paths import DATA_DIR_ENV, default_layout_model_dir, default_model_dir
from tests.core.test_model_files import write_checkpoint

REPO = "zai-org/GLM-OCR"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_FILES = {WEIGHTS_FILE, "tokenizer.json"}


class FakeHub(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: dict[str, bytes], repo: str = REPO):
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.repo = repo
        self.files = files
        self.served = dict(files)  # what the server actually sends (a test may corrupt it)
        self.requests: list[tuple[str, dict]] = []
        self.drop_once: set[str] = set()  # first transfer of these files stops halfway
        self.stall: dict[str, threading.Event] = {}  # these stop halfway until the event is set
        self.silent: dict[str, threading.Event] = {}  # these send their headers, then nothing until the event is set
        self.endless: set[str] = set()  # these keep streaming past their size (a lying or broken server)
        self.fail_once: dict[str, int] = {}  # the first request for these is answered with this status
        self.html_info = False  # the model info API answers with a web page (a proxy or captive portal)
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def sibling(self, name: str) -> dict:
        data = self.files[name]
        entry = {"rfilename": name, "size": len(data), "blobId": git_oid(data)}
        if name in LFS_FILES:
            entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            entry["blobId"] = hashlib.sha1(b"pointer" + name.encode()).hexdigest()
        return entry

    def ranges_for(self, name: str) -> list[str | None]:
        return [h.get("range") for path, h in self.requests if path.endswith("/" + name) or
                path.endswith("/" + hashlib.sha256(self.files[name]).hexdigest())]


def git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHub

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        path = self.path.split("?")[0]
        if path.startswith("/api/models/"):
            return self.model_info(path)
        if path.startswith(f"/{self.server.repo}/resolve/{COMMIT}/"):
            return self.resolve(path.rsplit("/", 1)[1])
        if path.startswith("/cdn/"):
            return self.cdn(path.rsplit("/", 1)[1])
        self.send_error(404)

    def model_info(self, path: str) -> None:
        if self.server.html_info:
            return self.send_page(200, b"<html><body>Please log in to the network</body></html>")
        repo = self.server.repo
        if path not in (f"/api/models/{repo}/revision/main", f"/api/models/{repo}/revision/{COMMIT}"):
            return self.send_json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        siblings = [self.server.sibling(n) for n in self.server.files] + [{"rfilename": ".gitattributes", "size": 5}]
        self.send_json(200, {"id": repo, "sha": COMMIT, "siblings": siblings})

    def send_page(self, code: int, body: bytes, extra: dict | None = None) -> None:
        self.send_response(code)
        for key, value in {"Content-Type": "text/html", "Content-Length": str(len(body)), **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def resolve(self, name: str) -> None:
        if name not in self.server.files:
            return self.send_error(404)
        if name in self.server.fail_once:
            return self.send_page(self.server.fail_once.pop(name), b"busy", {"Retry-After": "0"})
        if name in LFS_FILES:
            self.send_response(302)
            self.send_header("Location", f"/cdn/{hashlib.sha256(self.server.files[name]).hexdigest()}")
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_body(name)

    def cdn(self, digest: str) -> None:
        names = [n for n, d in self.server.files.items() if hashlib.sha256(d).hexdigest() == digest]
        if not names:
            return self.send_error(404)
        self.send_body(names[0])

    def send_json(self, code: int, payload: dict, extra: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        for key, value in {"Content-Type": "application/json", "Content-Length": str(len(body)),
                           **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def send_body(self, name: str) -> None:
        data = self.server.served[name]
        start = self.range_start()
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{self.server.sibling(name)["blobId"]}"')
        self.send_header("X-Repo-Commit", COMMIT)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        self.send_data(name, data[start:], fresh=start == 0)

    def range_start(self) -> int:
        value = self.headers.get("Range", "")
        return int(value.split("=")[1].split("-")[0]) if value.startswith("bytes=") else 0

    def send_data(self, name: str, data: bytes, fresh: bool) -> None:
        half = len(data) // 2
        if name in self.server.silent:
            self.wfile.flush()
            self.server.silent[name].wait(60)
            return self.hang_up(b"")
        if name in self.server.endless:
            self.wfile.write(data)
            for _ in range(2000):  # bounded: about 8 MB past the end, then hang up
                self.wfile.write(b"\x00" * 4096)
            return self.hang_up(b"")
        if fresh and name in self.server.drop_once:
            self.server.drop_once.discard(name)
            return self.hang_up(data[:half])
        if name in self.server.stall:
            for offset in range(0, half, 1024):  # small writes so the client sees several chunks
                self.wfile.write(data[offset:min(offset + 1024, half)])
                self.wfile.flush()
            self.server.stall[name].wait(10)
            return self.hang_up(b"")
        self.wfile.write(data)

    def hang_up(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """Isolated huggingface_hub settings: online, no telemetry, no token."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def checkpoint_files(tmp_path) -> dict[str, bytes]:
    source = write_checkpoint(tmp_path / "source")
    files = {p.name: p.read_bytes() for p in source.iterdir()}
    files["LICENSE"] = b"MIT License\n"
    return files


def serving(files: dict[str, bytes], repo: str = REPO):
    server = FakeHub(files, repo)
    server.thread.start()
    yield server
    for event in (*server.stall.values(), *server.silent.values()):
        event.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def hub(hub_env, checkpoint_files):
    yield from serving(checkpoint_files)


def test_complete_download_verifies_and_marks_the_folder(hub, tmp_path):
    reports = []
    target = download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint,
                            progress=lambda *args: reports.append(args))
    for name, data in hub.files.items():
        assert (target / name).read_bytes() == data
    assert not list(target.glob("*" + INCOMPLETE_SUFFIX))
    assert check_model_dir(target) == []
    marker = read_marker(target)
    assert marker["complete"] and marker["commit"] == COMMIT and set(marker["files"]) == set(hub.files)
    total = sum(map(len, hub.files.values()))
    assert reports[-1][:2] == (total, total)
    assert all(done <= whole == total for done, whole, _, _ in reports)
    assert [r[0] for r in reports] == sorted(r[0] for r in reports)
    assert not (target / ".gitattributes").exists()


def test_interrupted_transfer_resumes_with_a_range_request(hub, tmp_path):
    hub.drop_once.add(WEIGHTS_FILE)
    target = download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint)
    half = len(hub.files[WEIGHTS_FILE]) // 2
    starts = [int(r[len("bytes="):-1]) for r in hub.ranges_for(WEIGHTS_FILE) if r]
    assert starts and all(0 < start <= half for start in starts)  # resumed from what had arrived, not from 0
    assert (target / WEIGHTS_FILE).read_bytes() == hub.files[WEIGHTS_FILE]
    assert check_model_dir(target) == []


def test_cancel_keeps_the_partial_file_and_the_next_call_resumes(hub, tmp_path):
    cancel = threading.Event()
    hub.stall[WEIGHTS_FILE] = threading.Event()
    weights_size = len(hub.files[WEIGHTS_FILE])

    seen = {"done": 0, "weights_start": None}

    def on_status(text: str) -> None:
        if text == f"Downloading {WEIGHTS_FILE}":
            seen["weights_start"] = seen["done"]

    def on_progress(done, total, speed, eta):
        seen["done"] = done
        if seen["weights_start"] is not None and done > seen["weights_start"]:
            cancel.set()  # mid-file: the transfer is stalled halfway and must stop on the next chunk

    with pytest.raises(DownloadCancelled):
        download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint, progress=on_progress,
                       cancel=cancel, status=on_status)
    (partial,) = (tmp_path / "model").glob(WEIGHTS_FILE + ".*" + INCOMPLETE_SUFFIX)
    assert 0 < partial.stat().st_size < weights_size
    assert not (tmp_path / "model" / VERIFIED_MARKER).exists() or not read_marker(tmp_path / "model")["complete"]
    kept = partial.stat().st_size

    hub.stall.pop(WEIGHTS_FILE).set()
    target = download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint)
    assert f"bytes={kept}-" in hub.ranges_for(WEIGHTS_FILE)
    assert (target / WEIGHTS_FILE).read_bytes() == hub.files[WEIGHTS_FILE]
    assert read_marker(target)["complete"]


def test_corrupted_file_is_detected_by_sha256_and_deleted(hub, tmp_path):
    good = hub.files[WEIGHTS_FILE]
    hub.served[WEIGHTS_FILE] = good[:-1] + bytes([good[-1] ^ 0xFF])  # same size, one byte flipped
    with pytest.raises(ModelError, match=rf"{WEIGHTS_FILE} sha256 is [0-9a-f]{{64}} but the Hub lists") as caught:
        download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint)
    assert caught.value.path.endswith(WEIGHTS_FILE)
    assert not (tmp_path / "model" / WEIGHTS_FILE).exists()
    assert not list((tmp_path / "model").glob("*" + INCOMPLETE_SUFFIX))


def test_corrupted_plain_git_file_is_detected_by_its_git_hash(hub, tmp_path):
    hub.served["config.json"] = hub.files["config.json"].replace(b"glm_ocr", b"glm_xyz")
    with pytest.raises(ModelError, match="config.json git hash is"):
        download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint)


def test_a_partial_file_of_another_revision_is_not_resumed(hub, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    stale = folder / (WEIGHTS_FILE + ".0000000000000000" + INCOMPLETE_SUFFIX)
    stale.write_bytes(b"bytes of an older weights file")
    target = download_model(REPO, "main", folder, endpoint=hub.endpoint)
    assert not stale.exists() and not any(hub.ranges_for(WEIGHTS_FILE))
    assert check_model_dir(target) == []


def test_second_download_reuses_verified_files(hub, tmp_path):
    download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint)
    before = len(hub.requests)
    download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint)
    assert [p.split("?")[0] for p, _ in hub.requests[before:]] == [f"/api/models/{REPO}/revision/main"]


def test_unknown_repository_is_a_clear_error(hub, tmp_path):
    with pytest.raises(ModelError, match="not found"):
        download_model("someone/else", "main", tmp_path / "model", endpoint=hub.endpoint)


def test_not_enough_disk_space_stops_before_downloading(hub, tmp_path, monkeypatch):
    monkeypatch.setattr(download.shutil, "disk_usage", lambda path: type("U", (), {"free": 1000})())
    with pytest.raises(ModelError, match="not enough free disk space"):
        download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint)
    assert not any("/resolve/" in p for p, _ in hub.requests)


def test_no_network_explains_the_manual_alternative(hub_env, tmp_path):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ModelError) as caught:
        download_model(REPO, "main", tmp_path / "model", endpoint=f"http://127.0.0.1:{port}")
    text = str(caught.value)
    assert "cannot reach" in text and f"127.0.0.1:{port}" in text
    assert "Choose folder" in text and "config.json" in text


def test_offline_mode_is_a_clear_error(hub_env, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE"):
        download_model(REPO, "main", tmp_path / "model", endpoint="http://127.0.0.1:9")


def test_a_server_that_streams_past_the_size_never_grows_the_file_past_it(hub, tmp_path):
    hub.endless.add(WEIGHTS_FILE)
    target = download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint)
    assert (target / WEIGHTS_FILE).read_bytes() == hub.files[WEIGHTS_FILE]  # the extra bytes were never written


@pytest.mark.timeout(30)
def test_cancel_acts_while_the_server_sends_nothing(hub, tmp_path):
    hub.silent[WEIGHTS_FILE] = threading.Event()
    cancel = threading.Event()
    ticks = []

    def on_progress(done, total, speed, eta):
        ticks.append(done)
        if ticks.count(done) >= 3:  # progress keeps coming while no byte arrives; then the user gives up
            cancel.set()

    with pytest.raises(DownloadCancelled):
        download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint, progress=on_progress, cancel=cancel)


@pytest.mark.timeout(30)
def test_a_stalled_server_is_a_clear_error(hub, tmp_path, monkeypatch):
    from glmocr_core.checkpoint.transfer import TransferLimits

    monkeypatch.setattr(download, "TRANSFER_LIMITS", TransferLimits(poll_s=0.2, stall_s=1.0))
    hub.silent[WEIGHTS_FILE] = threading.Event()
    with pytest.raises(ModelError, match="stalled") as caught:
        download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint)
    assert "resume" in str(caught.value)


def test_a_busy_server_is_retried_after_its_retry_after(hub, tmp_path):
    hub.fail_once["config.json"] = 503
    target = download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint)
    assert (target / "config.json").read_bytes() == hub.files["config.json"]
    assert len([p for p, _ in hub.requests if p.endswith("/config.json")]) == 2


def test_a_refusing_server_is_not_retried(hub, tmp_path):
    hub.fail_once["config.json"] = 403
    with pytest.raises(ModelError, match="403"):
        download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint)


def test_a_web_page_instead_of_the_hub_is_explained(hub, tmp_path):
    hub.html_info = True
    with pytest.raises(ModelError, match="login") as caught:
        download_model(REPO, "main", tmp_path / "model", endpoint=hub.endpoint)
    assert "Choose folder" in str(caught.value)


# ---- the layout model (PP-DocLayoutV3), the second model the same code fetches -----------------------------------

@pytest.fixture
def layout_files(tiny_layout_checkpoint) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in tiny_layout_checkpoint.iterdir()}
    files["README.md"] = b"# PP-DocLayoutV3\n"
    files["inference.yml"] = b"Global: {}\n"  # the Paddle export's config: in the repo, not needed by us
    return files


@pytest.fixture
def layout_hub(hub_env, layout_files):
    yield from serving(layout_files, LAYOUT_MODEL.repo_id)


@pytest.fixture(scope="module")
def tiny_layout_checkpoint(tmp_path_factory):
    from glmocr_core.testing.layout_checkpoints import build_tiny_layout_checkpoint

    return build_tiny_layout_checkpoint(tmp_path_factory.mktemp("tiny-layout"))


def test_the_layout_model_downloads_with_its_own_file_list(layout_hub, tmp_path):
    target = download_model(kind=LAYOUT_KIND, target_dir=tmp_path / "layout", endpoint=layout_hub.endpoint)
    assert sorted(p.name for p in target.iterdir() if not p.name.startswith(".")) == [
        "README.md", "config.json", WEIGHTS_FILE, "preprocessor_config.json"]  # not inference.yml
    for name in ("config.json", WEIGHTS_FILE, "preprocessor_config.json"):
        assert (target / name).read_bytes() == layout_hub.files[name]
    assert check_layout_dir(target) == [] and read_marker(target)["complete"]
    assert read_marker(target)["repo_id"] == LAYOUT_MODEL.repo_id


def test_an_interrupted_layout_download_resumes(layout_hub, tmp_path):
    layout_hub.drop_once.add(WEIGHTS_FILE)
    target = download_model(LAYOUT_MODEL.repo_id, "main", tmp_path / "layout", endpoint=layout_hub.endpoint,
                            kind=LAYOUT_KIND)
    assert any(r for r in layout_hub.ranges_for(WEIGHTS_FILE))
    assert check_layout_dir(target) == []


def test_the_layout_download_goes_next_to_the_glm_ocr_model_by_default(layout_hub, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    target = download_model(kind=LAYOUT_KIND, endpoint=layout_hub.endpoint)
    assert target == default_layout_model_dir() == tmp_path / "data" / "models" / "PP-DocLayoutV3"
    assert target.parent == default_model_dir().parent


def test_a_repository_without_layout_weights_is_refused(layout_hub, tmp_path):
    del layout_hub.files[WEIGHTS_FILE]
    with pytest.raises(ModelError, match=r"lacks model.safetensors: is it a PP-DocLayoutV3 \(layout\) checkpoint"):
        download_model(kind=LAYOUT_KIND, target_dir=tmp_path / "layout", endpoint=layout_hub.endpoint)


def test_a_glm_ocr_repository_is_not_taken_for_the_layout_model(hub, tmp_path):
    """The GLM-OCR repo has a config.json and weights too: the layout check names it after the download."""
    hub.repo = LAYOUT_MODEL.repo_id
    target = download_model(kind=LAYOUT_KIND, target_dir=tmp_path / "layout", endpoint=hub.endpoint)
    assert "GLM-OCR recognition model" in " ".join(map(str, check_layout_dir(target)))
    assert not (target / "tokenizer.json").exists()  # only the layout model's files were fetched


def test_no_network_names_the_layout_files(hub_env, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ModelError) as caught:
        download_model(kind=LAYOUT_KIND, target_dir=tmp_path / "layout", endpoint=f"http://127.0.0.1:{port}")
    assert LAYOUT_MODEL.repo_id in str(caught.value) and "config.json, model.safetensors" in str(caught.value)
    assert "tokenizer.json" not in str(caught.value)


def test_an_unknown_kind_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="unknown model kind 'ocr2'"):
        download_model(kind="ocr2", target_dir=tmp_path)


def test_the_hub_facts_of_both_models():
    assert set(HUB_MODELS) == {"glm-ocr", "layout"}
    assert HUB_MODELS["glm-ocr"].repo_id == DEFAULT_REPO_ID == REPO
    assert LAYOUT_MODEL.license == "Apache-2.0" and 100e6 < LAYOUT_MODEL.approx_download_bytes < 200e6
    assert {f.name for f in LAYOUT_MODEL.required} == {"config.json", WEIGHTS_FILE}
