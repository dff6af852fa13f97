"""Helpers the GUI tests share: files to open, a model folder that passes the checks, and user gestures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageDraw
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from safetensors.numpy import save_file

WAIT_MS = 10_000

TEXT = {"vocab_size": 32, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
        "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 4,
        "rope_parameters": {"mrope_section": [1, 0, 1]}}
VISION = {"hidden_size": 4, "depth": 1, "num_heads": 1, "intermediate_size": 8, "patch_size": 14,
          "temporal_patch_size": 2, "spatial_merge_size": 2, "out_hidden_size": 8}


def header_checkpoint(folder: Path) -> Path:
    """A folder that passes the header-only check (zeros for weights: nothing here runs the model)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "glm_ocr", "text_config": TEXT,
                                                    "vision_config": VISION}))
    shapes = {"model.language_model.embed_tokens.weight": (32, 8), "lm_head.weight": (32, 8),
              "model.language_model.layers.0.self_attn.q_proj.weight": (8, 8),
              "model.language_model.layers.0.self_attn.k_proj.weight": (4, 8),
              "model.language_model.layers.0.mlp.down_proj.weight": (8, 16),
              "model.visual.patch_embed.proj.weight": (4, 3, 2, 14, 14),
              "model.visual.blocks.0.attn.qkv.weight": (12, 4), "model.visual.merger.proj.weight": (8, 8)}
    save_file({k: np.zeros(s, np.float32) for k, s in shapes.items()}, str(folder / "model.safetensors"))
    for name in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json", "generation_config.json"):
        (folder / name).write_text("{}")
    (folder / "chat_template.jinja").write_text("[gMASK]<sop>")
    return folder


def make_png(path: Path, size=(400, 300)) -> Path:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((20, 20), "Hello", fill="black")
    image.save(path)
    return path


def make_pdf(path: Path, pages: int = 3) -> Path:
    pdf = pymupdf.open()
    for index in range(pages):
        page = pdf.new_page(width=300, height=400)
        page.insert_text((40, 60), f"Page {index + 1}")
    pdf.save(str(path))
    pdf.close()
    return path


def viewport_point(window, x, y) -> QPoint:
    return window.page_view.mapFromScene(QPointF(x, y))


def drag_on_page(window, start, end) -> None:
    """A mouse drag over the page view, in page units."""
    viewport = window.page_view.viewport()
    a, b = viewport_point(window, *start), viewport_point(window, *end)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(viewport, (a + b) / 2)
    QTest.mouseMove(viewport, b)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def send_drop(window, mime) -> bool:
    """Drag ``mime`` over the window and drop it; False when the window refuses it on entry."""
    position = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(position, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(position, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return drop.isAccepted()
