// Rendering entry points the Qt views call with runJavaScript. Strings arrive JSON-encoded from Python.
"use strict";

const glmocr = (() => {
  const content = () => document.getElementById("content");
  const hasKatex = () => typeof katex !== "undefined";
  const KATEX_MISSING = "Formula rendering is unavailable (KaTeX files are missing); showing LaTeX source.";

  function textElement(tag, className, text) {
    const el = document.createElement(tag);
    el.className = className;
    el.textContent = text;
    return el;
  }

  // Render one display formula; a parse error keeps KaTeX's red source and adds the message below it.
  function showFormula(tex) {
    const root = content();
    root.replaceChildren();
    root.className = "formula";
    if (!tex.trim()) {
      root.appendChild(textElement("div", "empty", "(empty formula)"));
      return 0;
    }
    if (!hasKatex()) {
      root.appendChild(textElement("pre", "", tex));
      root.appendChild(textElement("div", "notice", KATEX_MISSING));
      return 0;
    }
    const target = document.createElement("div");
    root.appendChild(target);
    try {
      katex.render(tex, target, {displayMode: true, throwOnError: true, strict: "ignore"});
    } catch (err) {
      katex.render(tex, target, {displayMode: true, throwOnError: false, strict: "ignore"});
      root.appendChild(textElement("div", "render-error", String(err.message || err)));
    }
    return root.querySelectorAll(".katex").length;
  }

  // Show sanitized Markdown HTML (made by Python) and let auto-render turn its \( \) and \[ \] spans into KaTeX.
  function showHtml(html) {
    const root = content();
    root.className = "markdown";
    root.innerHTML = html;
    if (!html.trim()) {
      root.appendChild(textElement("div", "empty", "(no text)"));
      return 0;
    }
    if (!hasKatex() || typeof renderMathInElement === "undefined") {
      if (root.querySelector(".math")) root.appendChild(textElement("div", "notice", KATEX_MISSING));
      return 0;
    }
    renderMathInElement(root, {
      delimiters: [
        {left: "\\[", right: "\\]", display: true},
        {left: "\\(", right: "\\)", display: false},
      ],
      throwOnError: false,  // a bad formula shows as red source; its message is listed below the text
      strict: "ignore",
    });
    for (const bad of root.querySelectorAll(".katex-error")) {
      root.appendChild(textElement("div", "render-error", bad.getAttribute("title") || "KaTeX parse error"));
    }
    return root.querySelectorAll(".katex").length;
  }

  // Colours from the Qt palette: {fg, bg, muted, border, link, error_fg, error_bg}.
  function setColors(colors) {
    const style = document.documentElement.style;
    for (const [name, value] of Object.entries(colors)) style.setProperty("--" + name.replace("_", "-"), value);
  }

  // Height of what is shown, not of the viewport (scrollHeight never drops below the view's own height).
  function contentHeight() {
    const root = content();
    return Math.ceil(root.getBoundingClientRect().bottom + window.scrollY);
  }

  // The Qt view sizes itself to the content: every change of the content's height (new text, a reflow at a new
  // width, KaTeX fonts arriving) is announced in the page title, which Qt reports without being asked.
  function reportHeight() {
    document.title = "height:" + contentHeight();
  }

  function watchHeight() {
    if (typeof ResizeObserver !== "undefined") new ResizeObserver(reportHeight).observe(content());
    if (document.fonts) document.fonts.ready.then(reportHeight);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", watchHeight);
  else watchHeight();

  return {showFormula, showHtml, setColors, contentHeight, hasKatex};
})();
