"""Writing a figure or a stream of sheets to PNG, PDF or SVG, atomically."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from ccm_geo.errors import InputError
from ccm_geo.io import atomic_output
from ccm_geo.publish.printmap.common import FORMATS


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write a figure to PNG, PDF or SVG (by suffix) atomically and return the path.

    Raises
    ------
    InputError
        When the suffix is not ``.png``, ``.pdf`` or ``.svg``.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        msg = (
            f"cannot write a print map to {path}: the suffix {path.suffix!r} is not one of "
            f"{sorted(FORMATS)}; name the file .png, .pdf or .svg"
        )
        raise InputError(msg)
    metadata = {
        "png": {"Software": None},
        "pdf": {"CreationDate": None, "Producer": None},
        "svg": {"Date": None, "Creator": None},
    }[fmt]
    # SVG element ids are hashes salted at random unless a salt is set: fix it, so two runs
    # write the same bytes
    with atomic_output(path) as tmp, matplotlib.rc_context({"svg.hashsalt": "ccm_geo"}):
        fig.savefig(tmp, format=fmt, dpi=fig.dpi, metadata=metadata)
    return path


def save_sheets(figures: Iterable[Figure], path: str | Path) -> Path:
    """Write figures as the pages of one PDF (the map sheets), atomically.

    ``figures`` may be a generator (e.g. from :func:`iter_sheets`): each page is written
    and cleared (its artists let go) before the next is drawn, so memory stays that of one
    sheet. The figures are empty afterwards.
    """
    path = Path(path)
    with atomic_output(path) as tmp, PdfPages(tmp, metadata={"CreationDate": None}) as pdf:
        for fig in figures:
            pdf.savefig(fig)
            fig.clear()  # its artists (thousands of paths) go now, not when the caller's ref does
    return path
