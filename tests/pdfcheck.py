"""Reading request PDFs and workbooks the way a reviewer would: poppler's tools and LibreOffice.

poppler-utils (pdftotext, pdffonts, pdfinfo, pdftoppm) and LibreOffice Calc come from Debian's
packages through the Makefile's ``pdf-deps``; tests that need them skip with that reason.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

POPPLER = all(shutil.which(t) for t in ("pdftotext", "pdffonts", "pdfinfo", "pdftoppm"))
POPPLER_MISSING = "poppler-utils is not installed (make pdf-deps installs Debian's package)"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def pages(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in out.splitlines() if line.startswith("Pages:")))


def text(pdf: Path, first: int | None = None, last: int | None = None) -> str:
    cmd = ["pdftotext", "-enc", "UTF-8"]
    if first:
        cmd += ["-f", str(first)]
    if last:
        cmd += ["-l", str(last)]
    return subprocess.run([*cmd, str(pdf), "-"], capture_output=True, check=True).stdout.decode()


def fonts(pdf: Path) -> list[dict[str, str]]:
    """pdffonts' table: name, type, emb (yes/no) per font."""
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    rows = []
    for line in out.stdout.splitlines()[2:]:
        parts = line.split()
        # name type [type...] encoding emb sub uni object ID
        rows.append({"name": parts[0], "emb": parts[-5], "line": line})
    return rows


def images_on(pdf: Path, first: int, last: int) -> int:
    out = subprocess.run(
        ["pdfimages", "-list", "-f", str(first), "-l", str(last), str(pdf)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return max(len(out.splitlines()) - 2, 0)


def fill(pdf: Path, *, top_mm: float = 16.0, bottom_mm: float = 15.0) -> list[float]:
    """Per page, the share of the body (between the running header and footer margins) that
    holds something: from the body's top to its lowest non-white pixel row."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["pdftoppm", "-gray", "-r", "20", str(pdf), f"{tmp}/p"], check=True, capture_output=True
        )
        shares = []
        for f in sorted(Path(tmp).glob("p-*.pgm")):
            img = _read_pgm(f)
            h = img.shape[0]
            mm = h / 297.0
            top, bottom = int(top_mm * mm), int(h - bottom_mm * mm)
            body = img[top:bottom]
            ink = np.flatnonzero((body < 200).any(axis=1))
            shares.append(0.0 if not len(ink) else (ink[-1] + 1) / body.shape[0])
        return shares


def _read_pgm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    fields = data.split(maxsplit=4)
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(fields[4][-w * h :], dtype=np.uint8).reshape(h, w)


def recalculated(xlsx: Path, out_dir: Path) -> Path:
    """The workbook recalculated by LibreOffice (headless), saved as a new .xlsx."""
    profile = out_dir / "lo-profile"
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    # recalculate every formula on load (LibreOffice keeps cached values of xlsx by default)
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        '<item oor:path="/org.openoffice.Office.Calc/Formula/Load">'
        '<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>\n'
        "</oor:items>\n",
        encoding="utf-8",
    )
    target = out_dir / "recalc"
    target.mkdir(exist_ok=True)
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--calc",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(target),
            str(xlsx),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    return target / xlsx.name


def links(pdf: Path) -> int:
    """Link annotations in the PDF (WeasyPrint stores them in compressed object streams)."""
    import re
    import zlib

    data = pdf.read_bytes()
    n = data.count(b"/Subtype /Link")
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            n += zlib.decompress(m.group(1)).count(b"/Link")
        except zlib.error:
            continue
    return n
