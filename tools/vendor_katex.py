"""Copy the pinned KaTeX (node_modules/katex, see package.json) into symbackprop/static/katex.

The HTML document must open offline, so KaTeX ships inside the package:
katex.min.js as is, and katex.min.css with its woff2 fonts inlined as data:
URIs (the woff/ttf fallbacks dropped: every current browser reads woff2).
Run after changing the katex version:  npm ci && python tools/vendor_katex.py
"""
from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "node_modules" / "katex"
TARGET = ROOT / "symbackprop" / "static" / "katex"


def inline_fonts(css: str, fonts: Path) -> str:
    """Replace each @font-face src list by its woff2 file as a data: URI."""
    def one(m: re.Match) -> str:
        data = base64.b64encode((fonts / m[1]).read_bytes()).decode()
        return f'src:url(data:font/woff2;base64,{data}) format("woff2")'
    return re.sub(r'src:url\(fonts/([\w-]+\.woff2)\) format\("woff2"\)[^;}]*', one, css)


def main() -> None:
    version = json.loads((SOURCE / "package.json").read_text())["version"]
    TARGET.mkdir(parents=True, exist_ok=True)
    dist = SOURCE / "dist"
    shutil.copyfile(dist / "katex.min.js", TARGET / "katex.min.js")
    css = inline_fonts((dist / "katex.min.css").read_text(), dist / "fonts")
    assert "url(fonts/" not in css, "a font was not inlined"
    (TARGET / "katex.inline.min.css").write_text(css)
    shutil.copyfile(SOURCE / "LICENSE", TARGET / "LICENSE")
    (TARGET / "VERSION").write_text(version + "\n")
    print(f"KaTeX {version} → {TARGET}")


if __name__ == "__main__":
    main()
