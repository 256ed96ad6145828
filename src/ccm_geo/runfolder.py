"""The run folder: atomic stage outputs, and which run and configuration wrote each of them.

A stage writes into a temporary folder inside the run folder (``.ccm-tmp-<stage>-<pid>-<run>``)
and its files are moved into place only when it has finished, so a failed or killed stage
never leaves half its outputs beside the previous run's. The manifest records, per stage, the
run that last wrote it and a fingerprint of the configuration it depended on, so that a stage
run alone on outputs written under another configuration can say so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ccm_geo.errors import InputError
from ccm_geo.io import TEMP_PREFIX

if TYPE_CHECKING:
    from ccm_geo.config import ProjectConfig

__all__ = [
    "RUN_CACHE",
    "STAGE_SECTIONS",
    "usable_out_dir",
    "stage_folder",
    "moved_path",
    "new_run_id",
    "stage_config_sha256",
    "stale_stages",
]

#: The run folder's subfolder of prepared files one stage keeps for another run in its own
#: process (the web maps' packed road layer; ``publish.shared.run_cache``). Not an output:
#: files there are named by the sha256 of what they were made from, and may be deleted.
RUN_CACHE = ".ccm-cache"

#: Sections of the configuration each stage depends on, besides every earlier stage's.
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "load": ("project", "inputs"),
    "criteria": ("criteria",),
    "score": ("scoring",),
    "prioritise": ("planning",),
    "map": ("maps",),
    "request": ("donors",),
}


def new_run_id() -> str:
    """A run's id: its UTC start time and a random suffix (``20261130T204855Z-7586b8``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]


def usable_out_dir(out_dir: str | Path) -> Path:
    """Create the run folder, or say in one line why it cannot be one.

    Raises
    ------
    InputError
        ``out_dir`` is a file, lies under a file, or cannot be written.
    """
    out_dir = Path(out_dir)
    for parent in [out_dir, *out_dir.parents]:
        if parent.exists() and not parent.is_dir():
            what = "is a file" if parent == out_dir else f"is under {parent}, which is a file"
            msg = f"--out {out_dir}: {what}, not a folder; give a folder for the outputs"
            raise InputError(msg)
        if parent.exists():
            break
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f"{TEMP_PREFIX}probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        msg = (
            f"--out {out_dir}: cannot write there ({exc.strerror or exc}); choose a folder you "
            "can write to"
        )
        raise InputError(msg) from None
    return out_dir


@contextlib.contextmanager
def stage_folder(out_dir: Path, stage: str, run_id: str) -> Iterator[Path]:
    """Yield a new temporary folder inside ``out_dir`` for ``stage`` to write into.

    When the block ends normally, every file in it is moved to the same place under
    ``out_dir``; either way the temporary folder is removed. Paths written there can be
    translated with :func:`moved_path`.
    """
    tmp = Path(os.path.abspath(out_dir)) / f"{TEMP_PREFIX}{stage}-{os.getpid()}-{run_id}"
    tmp.mkdir(parents=True, exist_ok=False)
    try:
        yield tmp
        for f in sorted(p for p in tmp.rglob("*") if p.is_file()):
            target = Path(out_dir) / f.relative_to(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def moved_path(path: Path, tmp: Path, out_dir: Path) -> Path:
    """Where a file written into the stage folder ``tmp`` lies once moved into ``out_dir``."""
    p, t = Path(path).resolve(), Path(tmp).resolve()
    return Path(out_dir) / p.relative_to(t) if p.is_relative_to(t) else Path(path)


def stage_config_sha256(config: ProjectConfig, stage: str) -> str:
    """Fingerprint of the configuration that determines ``stage``'s outputs: its own sections
    and those of every stage before it (a change of [criteria] changes every later stage)."""
    dump = config.model_dump(mode="json")
    sections = _sections_upto(stage)
    text = json.dumps({k: dump.get(k) for k in sections}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stale_stages(
    config: ProjectConfig, out_dir: Path, earlier: list[str], recorded: dict[str, dict]
) -> list[str]:
    """One message per earlier stage whose outputs in ``out_dir`` another configuration wrote.

    ``recorded`` is the ``stages`` record of the folder's manifest (stage -> run id and
    configuration fingerprint); stages it does not record are not judged.
    """
    out = []
    for stage in earlier:
        rec = recorded.get(stage)
        if rec is None or rec.get("config_sha256") == stage_config_sha256(config, stage):
            continue
        sections = ", ".join(f"[{s}]" for s in _sections_upto(stage))
        out.append(
            f"{out_dir}: the '{stage}' outputs here were written by run {rec.get('run_id')} "
            f"with another configuration ({sections} differ from this project file); run "
            f"`ccm-geo run` (or the stages from '{stage}') to bring them up to date"
        )
    return out


def _sections_upto(stage: str) -> list[str]:
    sections: list[str] = []
    for name, own in STAGE_SECTIONS.items():
        sections.extend(own)
        if name == stage:
            break
    return sections
