"""The browser view that shows KaTeX formulas and rendered Markdown, loaded from local files only.

QtWebEngine is optional at run time: ``webengine_available()`` says whether it imports, and the views fall back to
plain source with a notice when it does not, when a view cannot be created, or when Chromium's render process dies
under a view (``KatexView.failed``; after that no new view is tried, see ``web_failure``). The page
(resources/web/results.html) is loaded once from a file URL; later content goes in through ``runJavaScript``, which
has no size limit like ``setHtml``'s 2 MB and does not flicker.

A view is as tall as its content: the page reports its content height through its title whenever it changes (a
ResizeObserver: text reflowing to a new width, fonts arriving late), and the view takes that height up to a limit.
It follows the widget palette, also when the theme changes while it is shown.
"""

from __future__ import annotations

import json
import logging
import weakref
from functools import lru_cache

import shiboken6
from PySide6.QtCore import QEvent, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.resources_setup import web_dir

log = logging.getLogger(__name__)

PAGE_NAME = "results.html"
LOCAL_SCHEMES = {"file", "data", "qrc", "about", "blob"}
MIN_HEIGHT = 24  # one line of text
MAX_AUTO_HEIGHT = 2400  # a longer result scrolls inside its view
MEASURE_DELAY_MS = 60  # batches the re-measuring while a card is being resized
FONT_SETTLE_MS = 400
HEIGHT_TITLE = "height:"  # results.js titles the page "height:<px>" whenever its content height changes
# A click on an element with data-block="<id>" titles the page "block:<id>:<time>" (see KatexView.watch_blocks)
BLOCK_TITLE = "block:"
WATCH_BLOCKS_JS = """
(function () {
  const root = document.getElementById("content");
  if (root.dataset.watchBlocks) return;
  root.dataset.watchBlocks = "1";
  root.addEventListener("click", function (event) {
    const block = event.target.closest("[data-block]");
    if (block) document.title = "block:" + block.dataset.block + ":" + Date.now();
  });
})();
"""

_failure: list[str] = []  # why web views stopped working in this process (empty while they work)


def web_failure() -> str:
    """Why result views show plain source instead of a web page ("" while web views work)."""
    return _failure[0] if _failure else ""


def web_unavailable_reason() -> str:
    """Why a result shows source instead of a rendered page, for its notice."""
    return web_failure() or "QtWebEngine is not installed"


def _record_failure(reason: str) -> None:
    if not _failure:
        log.error("result pages fall back to plain source: %s", reason)
        _failure.append(reason)


def reset_web_failure() -> None:
    """Try web views again (tests; a later version might offer it to the user)."""
    _failure.clear()


_live_views: "weakref.WeakSet" = weakref.WeakSet()


def release_web_views() -> None:
    """Delete every live view (and its page) now.

    Chromium needs each page gone before its profile, and the default profile dies with the QApplication; a view
    still alive in an undeleted window at that moment crashes the process on exit. The app calls it at aboutToQuit
    (``app.main.connect_application``), the test suite when its session ends.
    """
    for view in list(_live_views):
        if shiboken6.isValid(view):
            shiboken6.delete(view)
    _live_views.clear()



@lru_cache(maxsize=1)
def webengine_available() -> bool:
    try:
        import PySide6.QtWebEngineWidgets  # noqa: F401  (the import itself is the check)
    except ImportError:
        return False
    return True


def page_url() -> QUrl:
    return QUrl.fromLocalFile(str(web_dir() / PAGE_NAME))


_guard = None  # the default profile's interceptor: every view shares that profile, so one guard serves them all


def _local_only_guard(profile):
    """An interceptor that blocks every request not to a local resource, so showing math never reaches the network."""
    from PySide6.QtWebEngineCore import QWebEngineUrlRequestInterceptor

    class LocalOnly(QWebEngineUrlRequestInterceptor):
        def __init__(self, parent):
            super().__init__(parent)
            self.blocked: list[str] = []

        def interceptRequest(self, info):  # noqa: N802 (Qt name)
            url = info.requestUrl()
            if url.scheme() not in LOCAL_SCHEMES:
                self.blocked.append(url.toString())
                info.block(True)

    return LocalOnly(profile)


def _install_local_only_guard(profile) -> None:
    global _guard
    if _guard is None:
        _guard = _local_only_guard(profile)  # held here too, so Python keeps it as long as the profile
        profile.setUrlRequestInterceptor(_guard)


def blocked_requests() -> list[str]:
    """URLs the guard refused (tests check it stays empty)."""
    return list(_guard.blocked) if _guard is not None else []


def _make_page_class():
    from PySide6.QtWebEngineCore import QWebEnginePage

    class ResultPage(QWebEnginePage):
        """Links in rendered text open in the user's browser, never inside the card."""

        def acceptNavigationRequest(self, url, nav_type, is_main_frame):  # noqa: N802 (Qt name)
            if nav_type == QWebEnginePage.NavigationType.NavigationTypeLinkClicked:
                if url.scheme() in ("http", "https", "mailto"):
                    QDesktopServices.openUrl(url)
                return False
            return super().acceptNavigationRequest(url, nav_type, is_main_frame)

    return ResultPage


def page_colors(palette: QPalette) -> dict[str, str]:
    """The page's CSS colours from a widget palette; error colours chosen to stay readable on a dark background."""
    role, group = QPalette.ColorRole, QPalette.ColorGroup.Active
    dark = palette.color(role.Base).lightness() < 128
    return {"fg": palette.color(group, role.Text).name(), "bg": palette.color(group, role.Base).name(),
            "muted": palette.color(group, role.PlaceholderText).name(), "border": palette.color(group, role.Mid).name(),
            "link": palette.color(group, role.Link).name(),
            "error_fg": "#ff8f8f" if dark else "#a4000f", "error_bg": "#3b1f22" if dark else "#fdecee"}


def _make_view_class():
    from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile, QWebEngineSettings
    from PySide6.QtWebEngineWidgets import QWebEngineView

    page_class = _make_page_class()

    class KatexView(QWebEngineView):
        """Shows a formula or Markdown HTML; ``rendered(n)`` reports how many KaTeX nodes the last update made;
        ``failed(reason)`` says the page is gone (its render process died) and the owner should show source."""

        rendered = Signal(int)
        failed = Signal(str)
        block_clicked = Signal(str)  # the data-block value of a clicked element (after watch_blocks)

        def __init__(self, parent: QWidget | None = None, auto_height: bool = True):
            super().__init__(parent)
            profile = QWebEngineProfile.defaultProfile()
            _install_local_only_guard(profile)
            self.setPage(page_class(profile, self))
            settings = self.settings()
            settings.setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessRemoteUrls, False)
            settings.setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessFileUrls, True)
            self._ready = False
            self._ended = False  # the render process died under this view
            self._pending: str | None = None
            self._auto_height = auto_height
            self._measure_timer = QTimer(self, singleShot=True, interval=MEASURE_DELAY_MS)
            self._measure_timer.timeout.connect(self._measure)
            self.setMinimumHeight(MIN_HEIGHT)
            self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            _live_views.add(self)
            self.page().setBackgroundColor(self.palette().color(QPalette.ColorRole.Base))  # no white flash in dark
            self.page().renderProcessTerminated.connect(self._on_process_ended)
            self.titleChanged.connect(self._on_title)
            self.loadFinished.connect(self._on_loaded)
            self.load(page_url())

        def _on_process_ended(self, status, exit_code) -> None:
            if status == QWebEnginePage.RenderProcessTerminationStatus.NormalTerminationStatus:
                return
            self._ended = True
            self._give_up(f"the web page process ended ({status.name.removesuffix('TerminationStatus').lower()}, "
                          f"exit code {exit_code})")

        def _give_up(self, reason: str) -> None:
            _record_failure(reason)
            self._ready = False
            self.failed.emit(reason)

        def _on_title(self, title: str) -> None:
            if title.startswith(BLOCK_TITLE):
                self.block_clicked.emit(title[len(BLOCK_TITLE):].rsplit(":", 1)[0])
                return
            if self._auto_height and title.startswith(HEIGHT_TITLE):
                try:
                    self._fit_height(float(title[len(HEIGHT_TITLE):]))
                except ValueError:
                    pass

        def show_formula(self, tex: str) -> None:
            self._run_render(f"glmocr.showFormula({json.dumps(tex)})")

        def show_html(self, html: str) -> None:
            self._run_render(f"glmocr.showHtml({json.dumps(html)})")

        def run_script(self, script: str) -> None:
            """Run page JavaScript once the page is ready (dropped before that: the next render repeats it)."""
            if self._ready:
                self.page().runJavaScript(script, 0)

        def watch_blocks(self) -> None:
            """Clicks on elements with ``data-block`` are reported by ``block_clicked``."""
            self.run_script(WATCH_BLOCKS_JS)

        def _run_render(self, script: str) -> None:
            if not self._ready:
                self._pending = script  # only the latest content matters
                return
            self.page().runJavaScript(script, 0, self._after_render)

        def _on_loaded(self, ok: bool) -> None:
            if not ok:
                if not self._ended:  # a process that died on the way has said so already
                    self._give_up(f"the result page {page_url().toLocalFile()} could not be loaded")
                return
            self._ready = True
            self._apply_palette()
            if self._pending is not None:
                script, self._pending = self._pending, None
                self._run_render(script)

        def _after_render(self, count) -> None:
            if not shiboken6.isValid(self):
                return  # a page's answer that arrived while its card was being deleted
            self.measure_soon()
            QTimer.singleShot(FONT_SETTLE_MS, self, self.measure_soon)  # KaTeX fonts load after the first layout
            self.rendered.emit(int(count) if isinstance(count, (int, float)) else -1)

        def measure_soon(self) -> None:
            if self._auto_height and self._ready:
                self._measure_timer.start()

        def _measure(self) -> None:
            self.page().runJavaScript("glmocr.contentHeight()", 0, self._fit_height)

        def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
            super().resizeEvent(event)
            if event.size().width() != event.oldSize().width():
                self.measure_soon()  # text reflows to a new height when the card gets wider or narrower

        def _fit_height(self, height) -> None:
            if isinstance(height, (int, float)) and shiboken6.isValid(self):
                self.setFixedHeight(max(MIN_HEIGHT, min(MAX_AUTO_HEIGHT, int(height) + 2)))

        def changeEvent(self, event) -> None:  # noqa: N802 (Qt name)
            super().changeEvent(event)
            if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
                self._apply_palette()  # the user switched between light and dark while the card is shown

        def _apply_palette(self) -> None:
            """Follow the app's (light or dark) palette so a card never flashes white in dark mode."""
            self.page().setBackgroundColor(self.palette().color(QPalette.ColorRole.Base))
            if self._ready:
                self.page().runJavaScript(f"glmocr.setColors({json.dumps(page_colors(self.palette()))})")

    return KatexView


@lru_cache(maxsize=1)
def katex_view_class():
    """The QWebEngineView subclass, built lazily so importing this module never needs QtWebEngine."""
    return _make_view_class()


def make_katex_view(parent: QWidget | None = None, auto_height: bool = True):
    """A KatexView, or None when QtWebEngine is not available, a view cannot be made, or web views already failed
    in this process (a render process that died once is not asked to show every later card)."""
    if not webengine_available() or web_failure():
        return None
    try:
        return katex_view_class()(parent, auto_height=auto_height)
    except Exception as exc:  # noqa: BLE001 (whatever Chromium throws, the card shows source instead)
        _record_failure(f"a web view could not be created ({exc})")
        return None
