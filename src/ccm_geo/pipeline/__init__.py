"""The pipeline: runs the stages in order, each writing its output into the run folder.

Every stage is a function ``(config, out_dir, state, log)``: it takes what it needs from
``state`` (the frames an earlier stage of the same run produced) or, when run alone, reads the
file the previous stage wrote into ``out_dir``. ``ccm-geo run`` and the stage subcommands call
these same functions. A run writes ``manifest.json``: inputs and outputs with their sha256,
the resolved configuration, versions, per-stage timings and every warning.

Each stage is atomic: it writes into a temporary folder inside the run folder
(``.ccm-tmp-<stage>-...``) and its files are moved into place only when the stage has finished,
so a failed or killed stage never leaves half its outputs beside the previous run's. The
manifest records which run (and which configuration) wrote each output; a stage run alone on
a folder whose earlier stages came from another configuration says so.
"""

from ccm_geo.model import area_summary
from ccm_geo.pipeline.inputs import load_inputs, read_context
from ccm_geo.pipeline.manifest import (
    _read_manifest,
    input_sha256,
    other_project,
    reusable_outputs,
    stage_key,
)
from ccm_geo.pipeline.runlog import Progress, RunLog
from ccm_geo.pipeline.runner import publish_postgis, run
from ccm_geo.pipeline.stages import STAGES, _with_plan, run_stage

__all__ = [
    "STAGES",
    "RunLog",
    "Progress",
    "run",
    "run_stage",
    "load_inputs",
    "area_summary",
    "read_context",
    "publish_postgis",
    "input_sha256",
    "stage_key",
    "other_project",
    "reusable_outputs",
    "_read_manifest",
    "_with_plan",
]
