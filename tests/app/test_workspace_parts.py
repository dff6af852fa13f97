"""Smaller parts of the workspace: drop/paste parsing, result cards, the command line."""

from PIL import Image
from PySide6.QtCore import QMimeData, QUrl, Signal
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QLabel

from app.document.model import Region
from app.results.cards import ResultCard
from app.intake import can_accept, read_mime


def test_local_file_urls_win_over_image_data(tmp_path):
    path = tmp_path / "a.png"
    Image.new("RGB", (4, 4)).save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    mime.setData("image/png", path.read_bytes())
    incoming = read_mime(mime)
    assert incoming.paths == [str(path)] and incoming.image_bytes is None


def test_qimage_data_becomes_png_bytes():
    image = QImage(5, 3, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    mime = QMimeData()
    mime.setImageData(image)
    data = read_mime(mime).image_bytes
    assert data.startswith(b"\x89PNG")


def test_pasted_text_that_names_a_file_opens_it(tmp_path):
    path = tmp_path / "from text.pdf"
    path.write_bytes(b"%PDF-1.4")
    mime = QMimeData()
    mime.setText(f'"{path}"\n')
    assert read_mime(mime).paths == [str(path)]
    mime.setText("just some words")
    assert read_mime(mime).empty


def test_remote_urls_are_reported_not_opened():
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/x.png")])
    incoming = read_mime(mime)
    assert incoming.empty and incoming.remote_urls == ["https://example.com/x.png"]
    assert can_accept(mime) and not can_accept(None)


class EditableView(QLabel):
    edited = Signal(str)


def done_region(task="text", text="hi") -> Region:
    return Region(page=0, box=(0, 0, 5, 5), task=task, state="done", text=text)


def test_a_card_shows_the_view_its_factory_makes_and_keeps_its_edits(qtbot):
    formula = done_region("formula", "x^2")
    card = ResultCard(formula, view_factory=lambda region: EditableView(f"rendered {region.text}"))
    qtbot.addWidget(card)
    assert card.view.text() == "rendered x^2"
    edits = []
    card.edited.connect(lambda rid, value: edits.append((rid, value)))
    card.view.edited.emit("x^3")
    assert formula.edited_text == "x^3" and edits == [(formula.id, "x^3")]


def test_every_card_can_copy_and_only_extract_cards_offer_a_template(qtbot):
    region = done_region("text")
    card = ResultCard(region, view_factory=lambda r: QLabel(r.text))
    qtbot.addWidget(card)
    assert card.copy_button.isVisibleTo(card) and not card.template_button.isVisibleTo(card)
    region.task = "extract"
    card.refresh()
    assert card.template_button.isVisibleTo(card)


def test_streaming_shows_plain_text_and_finishing_builds_the_view_once(qtbot):
    built = []
    region = Region(page=0, box=(0, 0, 5, 5), state="running")
    card = ResultCard(region, view_factory=lambda r: built.append(r.text) or QLabel(r.text))
    qtbot.addWidget(card)
    card.append_text("par")
    card.append_text("tial")
    assert card.stream_view.toPlainText() == "partial" and built == []
    region.state, region.text = "done", "partial"
    card.refresh()
    card.refresh(number=2)  # a re-sync must not rebuild the finished view
    assert built == ["partial"] and card.number_label.text() == "<b>#2</b>"


def test_command_line_paths_open_documents(make_studio, tmp_path, monkeypatch):
    Image.new("RGB", (30, 20), "white").save(tmp_path / "cli.png")
    monkeypatch.chdir(tmp_path)
    studio = make_studio(paths=["cli.png"])
    assert studio.workspace.session.path == str(tmp_path / "cli.png")
