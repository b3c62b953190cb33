"""Render resources/opsconsole.svg to the PNG, ICO and ICNS files the bundle needs.

Run at build time by the spec (and by ``make package``); uses Qt's own SVG renderer and
image writers, so no other imaging library is needed. A build tool, not part of the console:
it imports PySide6 directly.

    python packaging/render_icon.py OUT_DIR
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SVG = Path(__file__).resolve().parent.parent / "resources" / "opsconsole.svg"
PNG_SIZES = (16, 32, 48, 64, 128, 256, 512)


def render(size: int, renderer: QSvgRenderer) -> QImage:
    image = QImage(QSize(size, size), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def main(out_dir: Path) -> list[Path]:
    """Write opsconsole.png (256), opsconsole-<N>.png, opsconsole.ico and opsconsole.icns."""
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"error: {SVG} is not a valid SVG")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    images = {size: render(size, renderer) for size in PNG_SIZES}
    for size, image in images.items():
        path = out_dir / f"opsconsole-{size}.png"
        if not image.save(str(path), "PNG"):
            raise SystemExit(f"error: could not write {path}")
        written.append(path)
    targets = [(out_dir / "opsconsole.png", "PNG", 256), (out_dir / "opsconsole.ico", "ICO", 256)]
    targets.append((out_dir / "opsconsole.icns", "ICNS", 512))
    for path, fmt, size in targets:
        # Qt's qico/qicns image plugins ship with PySide6; without one, that file is skipped.
        if images[size].save(str(path), fmt):
            written.append(path)
        else:
            print(f"warning: Qt could not write {fmt}; {path.name} skipped", file=sys.stderr)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("build/icons")
    for item in main(target):
        print(item)
