"""The command line: parse, load the config, call one library function, print a summary.

Heavy imports happen inside the commands so that ``ccm-geo --help`` is instant. A user error
(:class:`~ccm_geo.errors.CcmGeoError`) prints one line on stderr and exits 1; usage errors
exit 2.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from ccm_geo import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Plan the clearance of cluster munition remnants and landmines.",
)

ProjectArg = Annotated[Path, typer.Argument(help="The project file (TOML).", show_default=False)]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Run folder for the outputs.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ccm-geo {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Score hazardous areas, plan their clearance, publish offline maps and donor requests."""
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    level = logging.ERROR if quiet else levels[min(verbose, 2)]
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


@app.command()
def validate(
    target: Annotated[
        Path, typer.Argument(help="A project file (TOML) or a hazard file.", show_default=False)
    ],
    crs: Annotated[
        str | None,
        typer.Option(help="CRS to assume for a hazard file without one, e.g. EPSG:4326."),
    ] = None,
) -> None:
    """Check the inputs and print the validation report (exit 1 when unusable)."""
    from ccm_geo.errors import ValidationError

    with _user_errors():
        if target.suffix.lower() == ".toml":
            from ccm_geo.config import load_config
            from ccm_geo.pipeline import load_inputs

            config = load_config(target)
            try:
                _hazards, _context, reports = _quietly(load_inputs, config)
            except ValidationError as exc:
                _print_report(exc.report)
                raise
        else:
            from pydantic import ValidationError as SettingsError

            from ccm_geo.config import HazardInput
            from ccm_geo.errors import ConfigError
            from ccm_geo.io import load_hazards

            try:
                spec = HazardInput(path=target, crs=crs)
            except SettingsError as exc:
                reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
                raise ConfigError(f"--crs {crs!r}: {reason}") from None
            try:
                _hazards, report = _quietly(load_hazards, spec)
            except ValidationError as exc:
                _print_report(exc.report)
                raise
            reports = [report]
        for report in reports:
            _print_report(report)


@app.command()
def run(
    project: ProjectArg,
    out: OutOpt = Path("maps/run"),
    stage: Annotated[
        list[str] | None,
        typer.Option("--stage", help="Run only these stages (repeatable). Default: all."),
    ] = None,
    tiles: Annotated[
        str | None,
        typer.Option(
            help="A local .mbtiles/.pmtiles file (inlined, offline) or a tile URL template "
            "for the maps' background (default: none, offline)."
        ),
    ] = None,
    publish: Annotated[
        list[str] | None,
        typer.Option(
            "--publish",
            help="Publish the run to 'postgis' ([publish.postgis] of the project) at the end.",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="'inprocess' (default) or 'dask': a LocalCluster here, or --scheduler's "
            "cluster (needs the [dask] extra). Default: [engine] of the project."
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of an existing Dask scheduler, e.g. tcp://HOST:8786."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Workers of the LocalCluster (--engine dask).")
    ] = None,
) -> None:
    """Run every stage in order on a project, writing each stage's output into --out."""
    unknown = sorted(set(publish or []) - {"postgis"})
    if unknown:
        raise typer.BadParameter(f"unknown target(s) {', '.join(unknown)}; targets: postgis")
    if engine is None and scheduler is None and workers is None:
        _run(project, out, stage, tiles=tiles, publish=publish)
    else:
        _run(
            project,
            out,
            stage,
            tiles=tiles,
            publish=publish,
            engine_args={"kind": engine, "scheduler": scheduler, "workers": workers},
        )


@app.command()
def publish(project: ProjectArg, out: OutOpt = Path("maps/run")) -> None:
    """Publish a finished run (--out) to the database of [publish.postgis], in one transaction."""
    with _user_errors():
        from ccm_geo.config import load_config
        from ccm_geo.pipeline import publish_postgis

        result = publish_postgis(load_config(project), out)
        rows = ", ".join(f"{name} {n:,}" for name, n in result.rows.items())
        typer.echo(
            f"published run {result.run_id[:12]} to schema {result.schema}: {rows} rows "
            f"({result.seconds:.1f} s)"
        )


def _run(project: Path, out: Path, stages: list[str] | None, **options) -> None:
    with _user_errors():
        from ccm_geo.config import load_config
        from ccm_geo.pipeline import STAGES
        from ccm_geo.pipeline import run as run_pipeline

        unknown = sorted(set(stages or []) - set(STAGES))
        if unknown:
            raise typer.BadParameter(
                f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(STAGES)}",
                param_hint="--stage",
            )
        config = load_config(project)
        engine_args = options.pop("engine_args", None)
        if engine_args is not None or config.engine.kind != "inprocess" or config.engine.scheduler:
            from ccm_geo.engine import open_engine

            options["engine"] = open_engine(settings=config.engine, **(engine_args or {}))
        try:
            with _progress() as step:
                log = run_pipeline(config, out, stages=stages, progress=step, **options)
        finally:
            if options.get("engine") is not None:
                options["engine"].close()
        _print_summary(log)


@app.command()
def load(project: ProjectArg, out: OutOpt = Path("maps/run")) -> None:
    """Load and validate the inputs; write hazards.gpkg, context.gpkg and the area summary."""
    _run(project, out, ["load"])


@app.command()
def criteria(project: ProjectArg, out: OutOpt = Path("maps/run")) -> None:
    """Add the raw indicators to every area (reads hazards.gpkg; writes criteria.gpkg)."""
    _run(project, out, ["criteria"])


@app.command()
def score(project: ProjectArg, out: OutOpt = Path("maps/run")) -> None:
    """Score, rank and explain every area; sensitivity and scenarios (writes scored.gpkg)."""
    _run(project, out, ["score"])


@app.command()
def prioritise(project: ProjectArg, out: OutOpt = Path("maps/run")) -> None:
    """Plan: tasks, optimal budgeted years, team schedule, milestones, deadline (plan/)."""
    _run(project, out, ["prioritise"])


@app.command(name="map")
def map_(
    project: ProjectArg,
    out: OutOpt = Path("maps/run"),
    tiles: Annotated[
        str | None,
        typer.Option(
            help="A local .mbtiles/.pmtiles file of raster tiles (the tiles over the map are "
            "inlined: the map stays offline) or a tile URL template (needs internet when the "
            "map is opened); default: none, the map works offline."
        ),
    ] = None,
) -> None:
    """The interactive priority map (offline HTML), its embeddable form, and the print map."""
    _run(project, out, ["map"], tiles=tiles)


@app.command()
def request(
    project: ProjectArg,
    out: OutOpt = Path("maps/run"),
    donor: Annotated[
        str | None, typer.Option(help="Only this donor's package (name or slug).")
    ] = None,
) -> None:
    """One funding request package per donor, and the programme view (requests/)."""
    _run(project, out, ["request"], donor=donor)


@app.command()
def backtest(
    project: ProjectArg,
    as_of: Annotated[
        list[str],
        typer.Option(
            "--as-of",
            help="Cut-off date, YYYY-MM-DD or a year (1 January); repeat for several.",
            show_default=False,
        ),
    ],
    horizon: Annotated[
        float | None,
        typer.Option(help="Years of later accidents after the cut-off (default [backtest]: 5)."),
    ] = None,
    radius: Annotated[
        float | None,
        typer.Option(help="Capture radius in metres (default [backtest]: 1000)."),
    ] = None,
    learned: Annotated[
        bool | None,
        typer.Option(
            "--learned/--no-learned",
            help="Also back-test a logistic regression trained before each cut-off only.",
            show_default=False,
        ),
    ] = None,
    out: OutOpt = Path("maps/run"),
) -> None:
    """Score the register as known at --as-of and measure how many later accidents its top
    areas hold, beside random order and past accidents within the radius (--out/backtest/)."""
    with _user_errors():
        from ccm_geo.config import load_config
        from ccm_geo.scoring.backtest import backtest as run_backtest
        from ccm_geo.scoring.backtest import parse_as_of, summary_markdown, write_backtest

        config = load_config(project)
        dates = [parse_as_of(a) for a in as_of]
        with _progress() as step:
            result = run_backtest(
                config,
                as_of=dates,
                horizon_years=horizon,
                radius_m=radius,
                learned=learned,
                progress=step,
            )
        paths = write_backtest(result, out / "backtest")
        typer.echo(summary_markdown(result))
        typer.echo(f"outputs in {out / 'backtest'}/ ({len(paths)} files)")


# --------------------------------------------------------------------------------------------
# Helpers


class _user_errors:  # noqa: N801 - used as a context manager
    """Turn a CcmGeoError into one line on stderr and exit 1."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        from ccm_geo.errors import CcmGeoError

        if exc is not None and isinstance(exc, CcmGeoError):
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1)
        return False


def _quietly(fn, *args, **kwargs):
    """Call ``fn``, printing its warnings as one-line messages on stderr."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    return result


class _progress:  # noqa: N801 - used as a context manager
    """A rich spinner on stderr showing the current step; silent when not a terminal."""

    def __enter__(self):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.status = None
        if self.console.is_terminal:
            self.status = self.console.status("starting")
            self.status.__enter__()
        return self.step

    def step(self, text: str) -> None:
        if self.status is not None:
            from rich.markup import escape

            self.status.update(escape(text))

    def __exit__(self, *exc):
        if self.status is not None:
            self.status.__exit__(*exc)
        return False


def _print_report(report) -> None:
    typer.echo(report.summary())


def _print_summary(log) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    # Wide enough for region names when the output is a file or a pipe (rich's default is 80).
    console = Console(stderr=False, width=None if sys.stdout.isatty() else 120)
    for w in log.warnings:
        typer.echo(f"warning ({w['stage']}): {w['message']}", err=True)
    for report in log.reports:
        counts = ", ".join(f"{k}={v}" for k, v in report.counts().items()) or "no issues"
        console.print(
            escape(f"{report.source}: {report.rows_read} read, {report.rows_kept} kept ({counts})"),
            soft_wrap=True,
        )
        for line in report.missing_lines():  # e.g. population: 7,886 of 8,277 ... have none
            console.print(escape(f"  missing {line}"), soft_wrap=True)
    summary = log.tables.get("area_summary")
    if summary is not None:
        _print_area_summary(console, summary)
    table = Table(title="stages", show_header=True)
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for name, secs in log.timings_s.items():
        table.add_row(name, f"{secs:.1f}")
    console.print(table)
    published = log.tables.get("published")
    if published is not None:
        pairs = zip(published["table"], published["rows"], strict=True)
        rows = ", ".join(f"{t} {n:,}" for t, n in pairs)
        console.print(escape(f"published to PostGIS: {rows} rows"), soft_wrap=True)
    console.print(
        escape(f"outputs in {log.out_dir}/ ({len(log.outputs)} files; manifest.json lists ")
        + "them with their sha256)",
        soft_wrap=True,
    )


def _print_area_summary(console, summary) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title="hazardous areas (ha): CMR separated from mines, as Article 7 Form F asks",
        show_header=True,
    )
    for col in (
        "region",
        "status",
        "areas",
        "total ha",
        "CMR ha",
        "mines ha",
        "mixed ha",
        "other ha",
    ):
        table.add_column(col, justify="left" if col in ("region", "status") else "right")
    for row in summary.itertuples(index=False):
        table.add_row(
            escape(str(row.region)),
            escape(str(row.status)),
            f"{row.areas:,}",
            f"{row.total_ha:,.1f}",
            f"{row.cmr_ha:,.1f}",
            f"{row.mine_ha:,.1f}",
            f"{row.mixed_ha:,.1f}",
            f"{row.other_ha:,.1f}",
        )
    console.print(table)
    console.print("An area holding CMR and mines counts in both columns (and in 'mixed').")


if __name__ == "__main__":  # pragma: no cover
    app()
