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
    add_completion=True,
    rich_markup_mode=None,
    no_args_is_help=True,
    help="Plan the clearance of cluster munition remnants and landmines.",
    epilog="Examples:\n\n\b\n  ccm-geo init export.xlsx --out project.toml\n"
    "  ccm-geo validate project.toml --report findings.txt\n"
    "  ccm-geo run project.toml --out maps/run\n"
    "  ccm-geo --install-completion bash   (then open a new shell)",
)

_PLAIN_TYPES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "bool": ""}


def _plain(display_type):
    """Option types in help as plain words (PATH, TEXT, INTEGER), as click and ``rio`` show
    them, rather than Python annotations such as ``<list[str]>``."""

    def plain(self, ctx) -> str | None:
        label = display_type(self, ctx) or ""
        label = label.strip("<>").removeprefix("list[").removesuffix("]")
        if getattr(self, "is_flag", False) or getattr(self, "count", False):
            return None
        return _PLAIN_TYPES.get(label.lower(), label.upper()) or None

    return plain


if hasattr(typer.core, "_TyperParameter"):  # typer >= 0.20 prints annotations otherwise
    typer.core._TyperParameter.display_type = _plain(typer.core._TyperParameter.display_type)

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
    """Score hazardous areas, plan their clearance, publish offline maps and donor requests.

    -q prints errors only; -v shows this tool's log; -vv adds the debug log of the libraries
    it uses.
    """
    _ROOT["quiet"] = quiet
    # -v: our INFO log, third parties stay at WARNING; -vv: everything at DEBUG.
    level = (
        logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    logging.basicConfig(
        level=logging.DEBUG if verbose >= 2 and not quiet else max(level, logging.WARNING),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("ccm_geo").setLevel(level)


@app.command()
def init(
    register: Annotated[
        str,
        typer.Argument(
            help="The hazard register: .gpkg, .shp, .geojson, .gdb, .xlsx, .ods, .csv ... "
            "(a quoted glob reads several files as one), or a PostGIS database "
            "postgresql://user@host:port/database with --layer schema.table.",
            show_default=False,
            metavar="REGISTER",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The project file to write (never overwritten).")
    ] = Path("project.toml"),
    layer: Annotated[
        str | None,
        typer.Option(
            help="Layer (or sheet) of a multi-layer file; the table (schema.table) of a "
            "PostGIS register."
        ),
    ] = None,
    password_env: Annotated[
        str | None,
        typer.Option(
            "--password-env",
            metavar="VAR",
            help="PostGIS: the environment variable holding the password (default: "
            "PGPASSWORD or ~/.pgpass).",
        ),
    ] = None,
) -> None:
    """Write a first project file from a register: columns and codes guessed, every guess
    marked CHECK, every needed edit marked EDIT.

    Examples:

    \b
      ccm-geo init export.xlsx --out project.toml
      ccm-geo init 'events/*.json' --out colombia.toml
      ccm-geo init national_register.gdb --layer hazards
      ccm-geo init postgresql://planner@db.local/imsma --layer land.hazards --password-env PGPASS
    """
    with _user_errors():
        from ccm_geo.project_init import init_project, is_postgis_url

        source = register if is_postgis_url(register) else Path(register)
        path, guess = _quietly(init_project, source, out, layer=layer, password_env=password_env)
    if _quiet():
        return
    typer.echo(f"{guess.rows:,} rows read from {register}; columns and sample values:")
    for col, values in guess.columns.items():
        used = [f for f, g in guess.guesses.items() if g.column == col]
        typer.echo(f"  {col}: {', '.join(values)}" + (f"  -> {', '.join(used)}" if used else ""))
    edits = path.read_text(encoding="utf-8").count("# EDIT:")
    checks = path.read_text(encoding="utf-8").count("# CHECK:")
    typer.echo(f"wrote {path}: {checks} guess(es) marked CHECK, {edits} edit(s) marked EDIT.")
    typer.echo(
        f"next: read the CHECK lines, do the EDIT ones, then `ccm-geo validate {path}`; "
        f"when it passes, `ccm-geo run {path} --out maps/run`."
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
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            metavar="FILE",
            help="Write every finding (one per line) to this file; the screen shows a summary.",
        ),
    ] = None,
) -> None:
    """Check the inputs and print a summary of the validation (exit 1 when unusable).

    Examples:

    \b
      ccm-geo validate project.toml
      ccm-geo validate project.toml --report findings.txt
      ccm-geo validate register.gpkg --crs EPSG:4326
    """
    from ccm_geo.errors import ValidationError

    _VALIDATE_REPORT["path"] = report
    if report is not None:
        report.write_text("", encoding="utf-8")

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
    projects: Annotated[
        list[Path],
        typer.Argument(
            help="One or more project files (TOML), or a quoted glob such as 'projects/*.toml'.",
            show_default=False,
            metavar="PROJECT...",
        ),
    ],
    out: OutOpt = Path("maps/run"),
    stage: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            metavar="NAME",
            help="Run only this stage (repeatable; always recomputed). Default: all.",
        ),
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
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            metavar="NAME",
            help="Also run this [scoring.scenarios] entry, into <out>/<NAME>/ (repeatable).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Recompute every stage (no reuse of earlier outputs).")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Validate, then print the stages it would run and the files."
        ),
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable run summary on stdout.")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Write into a folder holding another project's outputs."),
    ] = False,
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
    """Run every stage in order on one or more projects, each into its own folder.

    With one project the outputs go into --out; with several, into --out/<project file name>/.
    A stage whose inputs, settings and outputs are unchanged since the last run in that folder
    is reused (--force recomputes). A failing project does not stop the others; the exit code
    is 1 when any failed.

    Examples:

    \b
      ccm-geo run project.toml --out maps/run
      ccm-geo run project.toml --dry-run
      ccm-geo run a.toml b.toml --out maps
      ccm-geo -q run 'projects/*.toml' --out maps --json > summary.json
      ccm-geo run project.toml --scenario agriculture --force
      ccm-geo run project.toml --engine dask --workers 2
      ccm-geo run project.toml --scheduler tcp://scheduler.local:8786
    """
    from ccm_geo.batch import run_batch

    targets = sorted(set(publish or []) - {"postgis"})
    if targets:
        raise typer.BadParameter(
            f"unknown target(s) {', '.join(targets)}; targets: postgis", param_hint="--publish"
        )
    unknown = sorted(set(stage or []) - set(_stage_names()))
    if unknown:
        raise typer.BadParameter(
            f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(_stage_names())}",
            param_hint="--stage",
        )
    engine_args = {}
    if engine is not None or scheduler is not None or workers is not None:
        engine_args["engine_args"] = {"kind": engine, "scheduler": scheduler, "workers": workers}
    with _user_errors(), _progress() as step:
        results = run_batch(
            projects,
            out,
            stages=stage,
            scenarios=scenario or [],
            reuse=not force and not stage,
            dry_run=dry_run,
            overwrite=overwrite,
            progress=step,
            tiles=tiles,
            publish=publish,
            **engine_args,
        )
    _report_batch(results, json_out=json_out, dry_run=dry_run)


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


def _stage_names() -> list[str]:
    from ccm_geo.pipeline import STAGES

    return list(STAGES)


def _report_batch(results, *, json_out: bool, dry_run: bool) -> None:
    import json

    from ccm_geo.batch import summary_records

    records = summary_records(results)
    failed = [r for r in records if r["status"] == "failed"]
    if json_out:
        typer.echo(json.dumps({"projects": records, "failed": len(failed)}, indent=2))
    for r in results:
        if r.log is not None and not dry_run and not json_out and len(results) == 1:
            _print_summary(r.log)
        elif r.log is not None and not dry_run:
            for w in r.log.warnings:
                if not _quiet():
                    typer.echo(f"warning ({r.label}, {w['stage']}): {w['message']}", err=True)
        if dry_run and r.plan is not None and not json_out and not _quiet():
            typer.echo(r.plan)
    for r in failed:
        where = "" if len(results) == 1 else f"{r['label']}: "
        typer.echo(f"error: {where}{r['error']}", err=True)
    if len(results) > 1 and not json_out and not _quiet():
        _print_batch_table(records)
    if failed:
        raise typer.Exit(1)


def _print_batch_table(records) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(stderr=False, width=None if sys.stdout.isatty() else 140)
    table = Table(title="projects", show_header=True)
    for col in ("project", "status", "areas", "top priorities", "cost US$", "gap", "outputs"):
        table.add_column(col, justify="right" if col in ("areas", "cost US$", "gap") else "left")
    for r in records:
        cost = "" if r.get("cost_usd") is None else f"{r['cost_usd']:,.0f}"
        gap = "" if r.get("gap") is None else f"{r['gap']:.2%}"
        status = r["status"] if r["status"] != "failed" else f"failed: {r['error']}"
        table.add_row(
            escape(r["label"]),
            escape(status),
            "" if r.get("areas") is None else f"{r['areas']:,}",
            escape(", ".join(r.get("top") or [])),
            cost,
            gap,
            escape(str(r.get("out") or "")),
        )
    console.print(table)


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


@app.command(epilog="Example:  ccm-geo load project.toml --out maps/run")
def load(project: ProjectArg, out: OutOpt = Path("maps/run")) -> None:
    """Load and validate the inputs; write hazards.gpkg, context.gpkg and the area summary."""
    _run(project, out, ["load"])


@app.command(epilog="Example:  ccm-geo criteria project.toml --out maps/run")
def criteria(project: ProjectArg, out: OutOpt = Path("maps/run")) -> None:
    """Add the raw indicators to every area (reads hazards.gpkg; writes criteria.gpkg)."""
    _run(project, out, ["criteria"])


@app.command(epilog="Example:  ccm-geo score project.toml --out maps/run")
def score(project: ProjectArg, out: OutOpt = Path("maps/run")) -> None:
    """Score, rank and explain every area; sensitivity and scenarios (writes scored.gpkg)."""
    _run(project, out, ["score"])


@app.command(epilog="Example:  ccm-geo prioritise project.toml --out maps/run")
def prioritise(project: ProjectArg, out: OutOpt = Path("maps/run")) -> None:
    """Plan: tasks, optimal budgeted years, team schedule, milestones, deadline (plan/)."""
    _run(project, out, ["prioritise"])


@app.command(name="map", epilog="Example:  ccm-geo map project.toml --out maps/run")
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


@app.command(epilog="Example:  ccm-geo request project.toml --out maps/run --donor 'Fund name'")
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


#: The root options of the invocation being run (set by ``main``).
_ROOT = {"quiet": False}


def _quiet() -> bool:
    """Whether -q was given (errors only)."""
    return bool(_ROOT["quiet"])


def _quietly(fn, *args, **kwargs):
    """Call ``fn``, printing its warnings as one-line messages on stderr."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    for w in caught:
        if not _quiet():
            typer.echo(f"warning: {w.message}", err=True)
    return result


class _progress:  # noqa: N801 - used as a context manager
    """A rich spinner on stderr showing the current step; silent when not a terminal."""

    def __enter__(self):
        from rich.console import Console

        self.console = Console(stderr=True)
        self.status = None
        # not a terminal (a log file, a scheduler): plain lines, one per step, unless -q
        self.lines = not self.console.is_terminal and not _quiet()
        if self.console.is_terminal and not _quiet():
            self.status = self.console.status("starting")
            self.status.__enter__()
        return self.step

    def step(self, text: str) -> None:
        if self.status is not None:
            from rich.markup import escape

            self.status.update(escape(text))
        elif self.lines:
            sys.stderr.write(f"... {text}\n")
            sys.stderr.flush()

    def __exit__(self, *exc):
        if self.status is not None:
            self.status.__exit__(*exc)
        return False


#: Where ``validate --report`` writes the full report (set per invocation).
_VALIDATE_REPORT: dict[str, Path | None] = {"path": None}
_SUMMARY_ISSUES = 15  # findings shown on screen; the rest are counted (all are in --report)


def _print_report(report) -> None:
    """A summary on screen (counts per finding, each kind's first message, every error up to
    a limit); the whole report in ``--report FILE``."""
    text = report.summary()
    path = _VALIDATE_REPORT.get("path")
    if path is not None:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    errors = [i for i in report.issues if i.level == "error"]
    if _quiet():
        for i in errors:
            typer.echo(f"error: {report.source}: {i.code}: {i.message}", err=True)
        return
    head = text.splitlines()[0]
    typer.echo(head)
    for line in report.missing_lines():
        typer.echo(f"  missing  {line}")
    kinds: dict[tuple[str, str], list] = {}
    for i in report.issues:
        kinds.setdefault((i.level, i.code), []).append(i)
    order = {"error": 0, "warning": 1, "excluded": 2, "repair": 3}
    for (level, code), found in sorted(kinds.items(), key=lambda kv: order.get(kv[0][0], 9)):
        shown = found[:_SUMMARY_ISSUES] if level == "error" else found[:1]
        for i in shown:
            typer.echo(f"  {level.upper():8s} {code}: {i.message}")
        if len(found) > len(shown):
            typer.echo(f"  {level.upper():8s} {code}: ... {len(found) - len(shown):,} more like it")
    if path is not None:
        typer.echo(f"every finding is in {path}")
    elif len(report.issues) > len(kinds):
        typer.echo("give --report FILE to write every finding")


def _print_summary(log) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    # Wide enough for region names when the output is a file or a pipe (rich's default is 80).
    console = Console(stderr=False, width=None if sys.stdout.isatty() else 120)
    quiet = _quiet()
    for w in log.warnings:
        if not quiet:
            typer.echo(f"warning ({w['stage']}): {w['message']}", err=True)
    if quiet:
        return
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
    for name, record in getattr(log, "reused", {}).items():
        table.add_row(name, f"reused ({record.get('run_id')})")
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
