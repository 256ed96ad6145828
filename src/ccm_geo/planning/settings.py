"""Settings of the planning stage ([planning] in the project TOML): methods, teams, budgets, solver.

Every default carries its public source (see ``docs/planning.md`` and ``../shared/DOMAIN.md``);
they are starting figures for a Lao-PDR-like CMR programme, to be replaced by a programme's own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ccm_geo._base import Frozen

__all__ = [
    "MethodSpec",
    "MethodRules",
    "TeamSpec",
    "LockSpec",
    "PlanningSettings",
    "DEFAULT_METHODS",
    "DEFAULT_TEAMS",
]

#: Landmine Monitor 2023: of the land released in 2022, 32% was cancelled by NTS, 24% reduced by
#: TS and 44% cleared. NTS cancels 32% of an SHA; TS then reduces 24/68 of what remains, so an
#: area that goes NTS -> TS -> clearance is released 32% / 24% / 44% as the Monitor reports.
_LM2023_CANCEL = 0.32
_LM2023_REDUCE = round(0.24 / 0.68, 4)


class MethodSpec(Frozen):
    """One land-release method: what a team of this type achieves per day and what it costs."""

    kind: Literal["nts", "ts", "clearance"] = Field(
        description="'nts' (non-technical survey: cancels land), 'ts' (technical survey: reduces "
        "land) or 'clearance' (removes all hazards to depth; releases what it works on)."
    )
    team_type: str = Field(description="The team type that does this method (a key of teams).")
    productivity_m2_per_team_day: float = Field(
        gt=0, description="Area worked (surveyed or cleared) per team per working day, m²."
    )
    cost_usd_per_m2: float = Field(0.0, ge=0, description="Cost per m² worked (consumables), US$.")
    cost_usd_per_team_day: float = Field(
        0.0, ge=0, description="Cost per team per working day (staff, vehicles, equipment), US$."
    )
    cancel_share: float = Field(
        0.0, ge=0, le=1, description="Share of the surveyed area cancelled (NTS only)."
    )
    reduce_share: float = Field(
        0.0, ge=0, le=1, description="Share of the surveyed area reduced (TS only)."
    )
    source: str = Field("", description="Where the figures come from (shown in assumptions).")

    @model_validator(mode="after")
    def _shares_fit_kind(self) -> MethodSpec:
        if self.kind != "nts" and self.cancel_share > 0:
            msg = (
                f"cancel_share={self.cancel_share} is only meaningful for kind='nts' "
                f"(found kind={self.kind!r}); set it to 0 or change kind"
            )
            raise ValueError(msg)
        if self.kind != "ts" and self.reduce_share > 0:
            msg = (
                f"reduce_share={self.reduce_share} is only meaningful for kind='ts' "
                f"(found kind={self.kind!r}); set it to 0 or change kind"
            )
            raise ValueError(msg)
        return self


#: Default methods. Productivity and cost: DOMAIN.md (HALO Trust; Lao PDR planning figures).
DEFAULT_METHODS: dict[str, MethodSpec] = {
    "nts": MethodSpec(
        kind="nts",
        team_type="nts",
        productivity_m2_per_team_day=20_000.0,
        cost_usd_per_team_day=300.0,
        cancel_share=_LM2023_CANCEL,
        source="NTS visits 1-2 areas a day (assumed 2 ha/team-day; a 4-person team at "
        "US$300/day, assumed); cancel share 32% (Landmine Monitor 2023)",
    ),
    "ts": MethodSpec(
        kind="ts",
        team_type="manual",
        productivity_m2_per_team_day=5_000.0,
        cost_usd_per_team_day=400.0,
        reduce_share=_LM2023_REDUCE,
        source="TS samples the area with a clearance team (assumed 0.5 ha/team-day); reduce "
        "share 24/68 of the area left after NTS (Landmine Monitor 2023: 24% reduced)",
    ),
    "ts_dog": MethodSpec(
        kind="ts",
        team_type="dog",
        productivity_m2_per_team_day=8_000.0,
        cost_usd_per_team_day=500.0,
        reduce_share=_LM2023_REDUCE,
        source="mine detection dogs used for TS of mined land (DOMAIN.md; 0.8 ha/team-day and "
        "US$500/day assumed); reduce share as for TS",
    ),
    "clearance_manual": MethodSpec(
        kind="clearance",
        team_type="manual",
        productivity_m2_per_team_day=1_850.0,
        cost_usd_per_team_day=400.0,
        source="Lao PDR planning figure 41 ha/team/year over 220 working days = 1,850 m²/team-day; "
        "US$400/team-day gives US$2,160/ha, inside Lao PDR's US$1,800-2,500/ha for CMR",
    ),
    "clearance_manual_mines": MethodSpec(
        kind="clearance",
        team_type="manual",
        productivity_m2_per_team_day=300.0,
        cost_usd_per_m2=0.7,
        cost_usd_per_team_day=400.0,
        source="manual mine clearance 30 m²/deminer/day x 10 deminers (HALO Trust: 10-50); "
        "US$400/team-day + US$0.7/m² = US$2.03/m², low end of US$2-39/m² (French 2006)",
    ),
    "clearance_mechanical": MethodSpec(
        kind="clearance",
        team_type="mechanical",
        productivity_m2_per_team_day=5_000.0,
        cost_usd_per_m2=0.05,
        cost_usd_per_team_day=1_500.0,
        source="mechanical assets clear thousands of m²/day on suitable ground (DOMAIN.md; 0.5 "
        "ha/team-day assumed); machine, crew and fuel US$1,500/day + US$0.05/m² manual "
        "follow-up (assumed)",
    ),
}


class MethodRules(Frozen):
    """How an area becomes tasks (see ``tasks.make_tasks`` and docs/planning.md)."""

    nts_method: str = Field("nts", description="Method of non-technical survey.")
    ts_method: str = Field("ts", description="Method of technical survey of CMR/UXO land.")
    ts_mines_method: str | None = Field(
        "ts_dog", description="Method of TS where AP/AT mines are present (None: ts_method)."
    )
    manual_method: str = Field("clearance_manual", description="Manual clearance of CMR/UXO.")
    manual_mines_method: str = Field(
        "clearance_manual_mines", description="Manual clearance where AP/AT mines are present."
    )
    mechanical_method: str | None = Field(
        "clearance_mechanical", description="Mechanical clearance (None: never mechanical)."
    )
    nts_for_evidence: list[Literal["direct", "indirect", "none"]] = Field(
        default_factory=lambda: ["indirect", "none"],
        description="An SHA with this evidence gets NTS first (IMAS 07.11: survey before "
        "clearance). An SHA with direct evidence is treated as a CHA.",
    )
    ts_min_area_m2: float = Field(
        10_000.0,
        ge=0,
        description="TS before clearance when the area left to clear is at least "
        "this large, m² (small areas are cleared outright: TS would cost more than it saves).",
    )
    mechanical_landuse: list[str] = Field(
        default_factory=lambda: ["cropland", "paddy", "bare"],
        description="Land-cover classes (landuse_frac_<class>) where machines work well.",
    )
    mechanical_min_share: float = Field(
        0.5, ge=0, le=1, description="Mechanical when those classes cover at least this share."
    )
    mechanical_min_area_m2: float = Field(
        20_000.0, ge=0, description="... and the area to clear is at least this large, m²."
    )
    mixed_split: Literal["full", "equal"] = Field(
        "full",
        description="How released area of an area holding both CMR and AP/AT mines is "
        "reported: 'full' counts it in full under each convention (as Article 7 reports of the "
        "CCM and the Mine Ban Convention each do); 'equal' splits it half and half (donor "
        "attribution without double counting).",
    )
    benefit_floor: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Benefit per m² released = floor + (1 - floor) x score: "
        "every release has some value (Article 4 asks for all of it), the score ranks them.",
    )


class TeamSpec(Frozen):
    """Teams of one type: how many, their names, and the months they cannot work."""

    count: int = Field(ge=0, description="Number of teams of this type.")
    names: list[str] | None = Field(
        None, description="Team names (default '<type>-1', '<type>-2', ...)."
    )
    no_go_months: list[int] = Field(
        default_factory=list, description="Calendar months (1-12) this type does not work."
    )

    @model_validator(mode="after")
    def _names_match(self) -> TeamSpec:
        if self.names is not None and len(self.names) != self.count:
            msg = (
                f"{len(self.names)} team names given for count={self.count}; give one name "
                "per team or leave names out"
            )
            raise ValueError(msg)
        bad = [m for m in self.no_go_months if not 1 <= m <= 12]
        if bad:
            msg = f"no_go_months must be months 1-12, found {bad}"
            raise ValueError(msg)
        return self

    def team_names(self, team_type: str) -> list[str]:
        """The names of the teams, generated when not configured."""
        if self.names is not None:
            return list(self.names)
        return [f"{team_type}-{i + 1}" for i in range(self.count)]


#: Default teams: Lao PDR rainy season June-September stops manual and mechanical field work
#: (assumed; configure your own). NTS teams interview villagers and work all year.
DEFAULT_TEAMS: dict[str, TeamSpec] = {
    "nts": TeamSpec(count=2),
    "manual": TeamSpec(count=6, no_go_months=[6, 7, 8, 9]),
    "mechanical": TeamSpec(count=2, no_go_months=[6, 7, 8, 9]),
    "dog": TeamSpec(count=1, no_go_months=[6, 7, 8, 9]),
}


class LockSpec(Frozen):
    """A task forced into the plan, optionally in a given calendar year."""

    task_id: str
    year: int | None = None


class PlanningSettings(Frozen):
    """[planning]: methods, rules, teams, years and budgets, solver options.

    The defaults plan a province of a few hundred areas (a few hundred ha suspected) with
    US$1.5M a year; see docs/planning.md for every figure and its source.
    """

    methods: dict[str, MethodSpec] = Field(
        default_factory=lambda: dict(DEFAULT_METHODS),
        description="Land-release methods by name, merged over DEFAULT_METHODS.",
    )
    rules: MethodRules = Field(default_factory=MethodRules)
    teams: dict[str, TeamSpec] = Field(
        default_factory=lambda: dict(DEFAULT_TEAMS),
        description="Teams by type, merged over DEFAULT_TEAMS (count = 0 drops a type: the "
        "rules then fall back to a method another type does).",
    )
    years: int = Field(
        5,
        ge=1,
        le=50,
        description="Plan horizon in calendar years from the "
        "start date's year (extended to the deadline's year when that is later).",
    )
    budget_usd: float | list[float] | dict[int, float] = Field(
        1_500_000.0,
        description="Budget per year, US$: one amount for every year, a list by "
        "plan year (the last repeats), or a table calendar year -> amount (a missing year takes "
        "the latest earlier amount). Default US$1.5M/year (assumed, a provincial programme).",
    )
    working_days_per_year: float = Field(
        220.0,
        gt=0,
        le=366,
        description="Working days of a team in a full year without no-go "
        "months (Lao PDR planning figure, DOMAIN.md); months off scale it down pro rata.",
    )
    travel_allowance_share: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Share of team-days kept for travel between tasks; the "
        "optimiser plans with the rest, the schedule spends it on the road.",
    )
    hours_per_day: float = Field(8.0, gt=0, le=24, description="Working hours per day (travel).")
    travel_speed_kmh: float = Field(
        20.0,
        gt=0,
        description="Speed on straight lines between area centroids when no travel "
        "matrix is given, km/h (assumed: rural tracks).",
    )
    discount_rate: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Benefit of a task done in plan year y counts "
        "1/(1+rate)^y: land released earlier serves its users longer.",
    )
    gap: float = Field(
        0.01,
        ge=0,
        lt=1,
        description="Stop when the plan is proven within this share of the best possible "
        "(0.01 = 1%); 0 asks for a proof of optimality.",
    )
    time_limit_s: float = Field(
        60.0,
        gt=0,
        description="Wall-clock seconds for the plan's selection (greedy, bound, rounding and "
        "HiGHS together); the best plan found and its gap are kept when it runs out.",
    )
    dual_iterations: int = Field(
        100,
        ge=1,
        le=10_000,
        description="Work budget of the bound's search (evaluations of the relaxation): the "
        "same register gives the same prices, hence the same plan, on any machine. 100 takes "
        "about 5 s at 100,000 areas and gives a bound within 1e-4 of the converged one; 30% of "
        "time_limit_s caps it, so raise both together for a tighter bound on a larger register.",
    )
    curve_levels: int = Field(10, ge=2, le=50, description="Budget levels of the budget curve.")
    curve_time_limit_s: float = Field(
        5.0, gt=0, description="Wall-clock limit per point of the budget curve, s."
    )
    curve_max_tasks: int = Field(
        10_000,
        ge=100,
        description="Above this many tasks the budget curve is drawn on a random sample of "
        "whole areas (budget and teams scaled to the sample), so that a national register's "
        "curve takes seconds; the plan itself always uses every task.",
    )
    curve_team_factors: list[float] = Field(
        default_factory=lambda: [1.0, 1.5, 2.0],
        min_length=1,
        max_length=6,
        description="Team counts of the budget curve, as multiples of the configured teams: the "
        "curve is drawn for each, so that where teams bind the planner sees how many the "
        "money would need.",
    )
    random_seed: int = Field(20171005, description="HiGHS random seed (determinism).")
    locks: list[LockSpec] = Field(default_factory=list, description="Tasks forced in.")

    @field_validator("methods", "teams", mode="before")
    @classmethod
    def _merge_over_defaults(cls, v, info):
        """Tables given in TOML are merged over the defaults (a key replaces one entry)."""
        if not isinstance(v, dict):
            return v
        defaults = DEFAULT_METHODS if info.field_name == "methods" else DEFAULT_TEAMS
        return {**defaults, **v}

    @field_validator("curve_team_factors")
    @classmethod
    def _factors_positive(cls, v):
        if any(f <= 0 for f in v):
            msg = f"curve_team_factors must be positive multiples of the teams (found {v!r})"
            raise ValueError(msg)
        return v

    @field_validator("budget_usd")
    @classmethod
    def _budget_non_negative(cls, v):
        values = v.values() if isinstance(v, dict) else (v if isinstance(v, list) else [v])
        bad = [x for x in values if x < 0]
        if bad or (isinstance(v, list | dict) and not v):
            msg = f"budget_usd must hold non-negative amounts (found {v!r})"
            raise ValueError(msg)
        return v

    @model_validator(mode="after")
    def _references_exist(self) -> PlanningSettings:
        problems = []
        for name, m in self.methods.items():
            if m.team_type not in self.teams:
                problems.append(
                    f"methods.{name}.team_type={m.team_type!r} is not a team type "
                    f"(teams: {sorted(self.teams)})"
                )
        r = self.rules
        for key in (
            "nts_method",
            "ts_method",
            "ts_mines_method",
            "manual_method",
            "manual_mines_method",
            "mechanical_method",
        ):
            name = getattr(r, key)
            if name is not None and name not in self.methods:
                problems.append(
                    f"rules.{key}={name!r} is not a method (methods: {sorted(self.methods)})"
                )
        if problems:
            msg = "; ".join(problems)
            raise ValueError(msg)
        return self

    def budget_for(self, years: list[int]) -> list[float]:
        """Budget of each calendar year in ``years`` (plan order), US$."""
        b = self.budget_usd
        if isinstance(b, int | float):
            return [float(b)] * len(years)
        if isinstance(b, list):
            return [float(b[min(i, len(b) - 1)]) for i in range(len(years))]
        out = []
        known = sorted(b)
        for y in years:
            earlier = [k for k in known if k <= y]
            out.append(float(b[earlier[-1]] if earlier else b[known[0]]))
        return out
