"""Label placement: a greedy search over candidate offsets so that no two labels overlap."""

from __future__ import annotations

import math

import pandas as pd
from matplotlib import patheffects

from ccm_geo.publish.printmap.common import _OFFSETS


def _box(bb) -> tuple[float, float, float, float]:
    return (float(bb.x0), float(bb.y0), float(bb.x1), float(bb.y1))


def _overlaps(a, b, margin: float = 1.0) -> bool:
    return (
        a[0] - margin < b[2]
        and b[0] - margin < a[2]
        and a[1] - margin < b[3]
        and b[1] - margin < a[3]
    )


def _place(
    ax,
    renderer,
    labels: pd.DataFrame,
    kind: str,
    placed: list[dict],
    unplaced: list[str],
    obstacles: list,
    *,
    fontsize: float,
    colour: str = "#111111",
    bold: bool = False,
    italic: bool = False,
    offsets=_OFFSETS,
    leader: bool = True,
) -> None:
    """Greedy label placement: each label at the first candidate offset whose box meets no
    placed label and no obstacle and lies inside the map; else it is left out (``unplaced``)."""
    if not len(labels):
        return
    frame = _box(ax.get_window_extent(renderer))
    style = {  # what a label and its leader-line version share
        "textcoords": "offset points",
        "fontsize": fontsize,
        "color": colour,
        "zorder": 8,
        "path_effects": [patheffects.withStroke(linewidth=2.2, foreground="white")],
        "parse_math": False,
        "fontweight": "bold" if bold else "normal",
        "fontstyle": "italic" if italic else "normal",
    }
    limit = int(labels["limit"].iloc[0]) if "limit" in labels.columns else len(labels)
    n = 0
    for text, x, y in zip(labels["text"], labels["x"], labels["y"], strict=True):
        if n >= limit:
            break
        ann = None
        for dx, dy in offsets:
            ha = "left" if dx > 0 else ("right" if dx < 0 else "center")
            va = "bottom" if dy > 0 else ("top" if dy < 0 else "center")
            far = leader and math.hypot(dx, dy) > 10
            if ann is None:
                ann = ax.annotate(
                    text,
                    (x, y),
                    xytext=(dx, dy),
                    ha=ha,
                    va=va,
                    **style,
                    annotation_clip=True,
                )
            else:
                ann.set_position((dx, dy))
                ann.set_ha(ha)
                ann.set_va(va)
            bb = _box(ann.get_window_extent(renderer))
            inside = bb[0] >= frame[0] and bb[1] >= frame[1] and bb[2] <= frame[2]
            inside = inside and bb[3] <= frame[3]
            if (
                inside
                and not any(_overlaps(bb, o) for o in obstacles)
                and not any(_overlaps(bb, p["bbox"]) for p in placed)
            ):
                if far:
                    ann.arrow_patch = None
                    ann.remove()
                    ann = ax.annotate(
                        text,
                        (x, y),
                        xytext=(dx, dy),
                        ha=ha,
                        va=va,
                        **style,
                        arrowprops={
                            "arrowstyle": "-",
                            "color": "#333333",
                            "lw": 0.5,
                            "shrinkA": 0,
                            "shrinkB": 1,
                        },
                    )
                placed.append({"text": str(text), "kind": kind, "bbox": bb})
                n += 1
                break
        else:
            if ann is not None:
                ann.remove()
            unplaced.append(str(text))
