"""The HTML page: self-contained (KaTeX and the picture inside), rendered by headless Chromium."""
import os
import re
import shutil
import subprocess

import pytest

from symbackprop.render.documents import markdown_to_html, render_html
from symbackprop.api import example_path, prepare

CHROMIUM = next((c for c in ("chromium", "chromium-browser", "google-chrome") if shutil.which(c)),
                None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="no Chromium: apt-get install chromium (.ci/os-packages does)")


def chromium(*args, tmp_path) -> subprocess.CompletedProcess:
    assert CHROMIUM, "Chromium is missing on CI: .ci/os-packages installs it"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def page():
    model = prepare(example_path("worked_2331"))
    return render_html(model, model.worked())


def test_page_is_self_contained(page):
    # no stylesheet, script, font or image from elsewhere: KaTeX and the SVG are inside
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)
    assert "<script src" not in page and "<link" not in page
    assert len(re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" id="sbp-[^"]+" width', page)) == 1 and "font/woff2;base64" in page
    assert "katex.render" in page


def test_math_spans_survive_the_markdown_conversion():
    html = markdown_to_html("Text $a < b_{1}$ and $$\\frac{1}{2}$$ in a line.\n\n$$x & y$$\n")
    assert '<span class="math inline">a &lt; b_{1}</span>' in html
    assert '<span class="math display">\\frac{1}{2}</span>' in html
    assert '<div class="math block">\nx &amp; y\n</div>' in html


@needs_chromium
def test_chromium_renders_every_math_span_and_the_network(page, tmp_path):
    path = tmp_path / "page.html"
    path.write_text(page)
    spans = len(re.findall(r'class="math (inline|display|block)"', page))
    dom = chromium("--dump-dom", "--virtual-time-budget=10000", path.as_uri(),
                   tmp_path=tmp_path).stdout
    assert spans > 100
    assert dom.count('class="katex"') + dom.count('class="katex-display"') >= spans
    assert 'class="katex-error"' not in dom
    assert "<svg" in dom and "w<tspan" in dom


@needs_chromium
def test_chromium_screenshot(page, tmp_path):
    """The screenshot is a real picture (looked at by hand when the page changes)."""
    path = tmp_path / "page.html"
    path.write_text(page)
    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", "--window-size=1100,1400", "--virtual-time-budget=10000",
             path.as_uri(), tmp_path=tmp_path)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 30_000
