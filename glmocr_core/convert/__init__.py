"""Whole documents to Markdown and JSON: the layout model finds each page's regions, GLM-OCR reads them, and the
results are joined as the official SDK's formatter joins them. Qt-free; the window calls it from its worker thread.

Entry points (import the modules; this package imports nothing, so the window's formatter import stays light):

* ``converter.DocumentConverter(engine, detector, settings).convert(source, out_dir, pages=, progress=, cancel=)``
* ``converter.detect_page(detector, page_image)``: a page's regions (the window's "Detect layout")
* ``markdown.format_markdown(pages)``, ``markdown.page_pieces(blocks)``: recognized blocks as Markdown
* ``blocks.DocumentBlock``, ``blocks.LayoutBlock``: the plain data that crosses to the window
* ``loading.open_layout_detector(folder, device)``: the layout model, checked and loaded
"""
