from app.paths import MODEL_DIR_ENV, default_model_dir
from app.settings import KEYS, Settings


def test_defaults_come_back_typed(tmp_path):
    settings = Settings(tmp_path / "s.ini")
    assert settings.get("default_task") == "text"
    assert settings.get("recent_files") == []
    assert settings.get("auto_run") is True


def test_values_round_trip_through_the_ini_file(tmp_path):
    settings = Settings(tmp_path / "s.ini")
    settings.set("auto_run", False)
    settings.set("recent_files", ["/a.png"])
    settings.set("window/geometry", b"\x00\x01binary")
    settings.sync()
    again = Settings(tmp_path / "s.ini")
    assert again.get("auto_run") is False
    assert again.get("recent_files") == ["/a.png"]  # a one-item list survives INI storage
    assert again.get("window/geometry") == b"\x00\x01binary"


def test_corrupt_value_falls_back_to_default(tmp_path):
    (tmp_path / "s.ini").write_text("[General]\npdf_dpi=abc\n")
    assert Settings(tmp_path / "s.ini").get("pdf_dpi") == KEYS["pdf_dpi"].default


def test_recent_files_are_unique_newest_first_and_bounded(tmp_path):
    settings = Settings(tmp_path / "s.ini")
    for index in range(15):
        settings.add_recent_file(f"/f{index}.png")
    recent = settings.add_recent_file("/f3.png")
    assert recent[0] == "/f3.png" and recent.count("/f3.png") == 1 and len(recent) == 10


def test_model_dir_env_overrides_setting(tmp_path, monkeypatch):
    settings = Settings(tmp_path / "s.ini")
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    assert settings.model_dir() == str(default_model_dir())
    settings.set("model_dir", "/from/settings")
    assert settings.model_dir() == "/from/settings"
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    assert settings.model_dir() == str(tmp_path)
