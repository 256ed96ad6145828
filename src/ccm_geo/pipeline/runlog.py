"""What a run did: the record the stages fill and the manifest is written from."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ccm_geo.model import ValidationReport
from ccm_geo.runfolder import (
    new_run_id,
)

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

#: The stages' names, in the pipeline's order (``stages.STAGES`` maps each to its function).
STAGE_NAMES = ("load", "criteria", "score", "prioritise", "map", "request")


@dataclass
class RunLog:
    """What a run did: per-stage timings, warnings, outputs and validation reports."""

    out_dir: Path
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    reports: list[ValidationReport] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    progress: Progress | None = None
    #: Facts a stage records in the manifest under its own key (e.g. "scoring").
    facts: dict[str, Any] = field(default_factory=dict)
    #: This run's id (UTC time and a random suffix), recorded beside each output it wrote.
    run_id: str = field(default_factory=new_run_id)
    #: Stage that wrote each output (path -> stage), filled as stages finish.
    written_by: dict[Path, str] = field(default_factory=dict)
    #: Solver wall-clock seconds (kept here, in the manifest, never in the outputs).
    solver_seconds: dict[str, float] = field(default_factory=dict)
    #: Stages whose outputs an earlier run wrote and this run kept (stage -> its record).
    reused: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Content key of each stage run or reused (see :func:`stage_key`).
    stage_keys: dict[str, str] = field(default_factory=dict)

    def step(self, text: str) -> None:
        """Tell the caller (the CLI's progress display) what is being done."""
        logger.info(text)
        if self.progress is not None:
            self.progress(text)

    def wrote(self, path: Path) -> Path:
        self.outputs.append(Path(path))
        return Path(path)


# --------------------------------------------------------------------------------------------
# Stages
