"""Settings of the criteria stage ([criteria] in the project TOML).

Every default names its source, or says it is an assumption that a programme should replace with
its own figure. Distances are in metres, travel times in minutes, speeds in km/h.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ccm_geo._base import Frozen

__all__ = [
    "CriteriaSettings",
    "ContaminationSettings",
    "LanduseSettings",
    "RemotenessSettings",
    "RiskSettings",
    "DEFAULT_ROAD_SPEEDS_KMH",
]

#: Travel speed per road class, km/h. Assumption: typical rural speeds in mainland South-East
#: Asia for a four-wheel-drive vehicle (paved primary 60, secondary 40, gravel tertiary 25,
#: dirt track 10, footpath at walking pace 4). OpenStreetMap ``highway`` values are accepted.
DEFAULT_ROAD_SPEEDS_KMH: dict[str, float] = {
    "motorway": 80.0,
    "trunk": 70.0,
    "primary": 60.0,
    "secondary": 40.0,
    "tertiary": 25.0,
    "unclassified": 20.0,
    "residential": 20.0,
    "track": 10.0,
    "path": 4.0,
    "footway": 4.0,
}


class ContaminationSettings(Frozen):
    """[criteria.contamination]: which accidents count as recent and near an area."""

    accident_distance_m: float = Field(
        500.0,
        ge=0,
        description="An accident counts for an area when its point lies at most this far from "
        "the area's polygon (distance <= limit, 0 inside), in metres. Assumption: accident "
        "coordinates are recorded at the village or field, typically within a few hundred "
        "metres of the hazard; 500 m is a planning assumption, not a published standard.",
    )
    accident_window_months: int = Field(
        24,
        ge=1,
        description="Recent accidents: those dated on or after reference_date minus this many "
        "calendar months and not after reference_date. Default 24 months, as the Landmine "
        "Impact Survey counted recent victims (Survey Action Center, LIS protocols). The "
        "column names carry the figure: accidents_<N>m, killed_<N>m, ...",
    )
    unknown_casualties: Literal["one_event", "no_data"] = Field(
        "one_event",
        description="An accident whose killed and injured counts are both unknown (registers "
        "that record events, not victims). 'one_event' (default): it counts as one casualty "
        "event in casualties_<N>m (not in killed or injured), and the criteria warning says "
        "how many accidents this convention applied to; an accident records at least one "
        "casualty. 'no_data': casualty indicators of an area are NaN (no data) when any "
        "accident counted for it has unknown counts; scoring's `missing` policy then decides. "
        "One count known and the other not: the unknown one is no data under either setting.",
    )
    share_casualties: bool = Field(
        False,
        description="true: share each accident's killed, injured and casualties among the "
        "areas within accident_distance_m of it, in proportion to the risk family's Gaussian "
        "kernel (criteria.risk.kernel_sigma_m) and summing to at most its toll, as "
        "accident_risk shares accidents. false (default): every area near it counts the whole "
        "toll. accidents_<N>m always counts whole accidents. Sharing needs every area near "
        "the accident, so the Dask engine, which computes contamination per spatial "
        "partition, gives areas at partition borders larger shares (a warning says so). "
        "Back-test of both: docs/scoring.md.",
    )


class LanduseSettings(Frozen):
    """[criteria.landuse]: land-cover classes that count as blocked productive land."""

    productive_classes: tuple[str, ...] = Field(
        ("cropland", "paddy", "settlement", "pasture"),
        description="Land-cover class names whose area counts in blocked_productive_m2. Classes "
        "absent from the raster's class table are ignored. Default from the blockages the "
        "Landmine Impact Survey and IMSMA record (agricultural land, pasture, housing).",
    )
    strategy: Literal["raster-sequential", "feature-sequential"] = Field(
        "raster-sequential",
        description="exactextract's processing strategy. 'raster-sequential' reads the raster "
        "once in chunks of max_cells_in_memory cells (about 1.7x the floor of one full read, "
        "measured in benchmarks/bench_criteria.py); 'feature-sequential' reads one window per "
        "polygon (less memory for huge polygons, slower on many small ones).",
    )
    max_cells_in_memory: int = Field(
        30_000_000,
        ge=1,
        description="Largest number of raster cells read at once (exactextract's default). "
        "Bounds memory whatever the raster's size: 30M cells of a uint8 raster is 30 MB.",
    )


class RemotenessSettings(Frozen):
    """[criteria.remoteness]: the road network, off-road walking, and reach thresholds."""

    road_speeds_kmh: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_ROAD_SPEEDS_KMH),
        description="Speed per road_class, km/h. Defaults are an assumption (typical rural "
        "speeds of a 4x4 vehicle); replace them with the programme's own figures.",
    )
    default_speed_kmh: float = Field(
        20.0,
        gt=0,
        description="Speed of a road whose class is missing from road_speeds_kmh (a DataWarning "
        "names the classes). Assumption: an unclassified rural road.",
    )
    offroad_speed_kmh: float = Field(
        4.0,
        gt=0,
        description="Walking speed off the road network (from an area, a settlement or a health "
        "facility to its nearest road node, and direct walks). Assumption: 4 km/h, a little "
        "below the usual 5 km/h walking pace on flat ground, for fields and rough tracks.",
    )
    direct_walk_max_min: float = Field(
        60.0,
        ge=0,
        description="A straight-line walk (without roads) to a settlement or facility is "
        "considered when it takes at most this many minutes; beyond, travel uses the road "
        "network only. Assumption: people walk across country for up to an hour.",
    )
    snap_m: float = Field(
        0.01,
        gt=0,
        description="Road coordinates are snapped to a grid of this size (metres) before "
        "building the graph, so line ends that should meet do meet.",
    )
    population_radius_km: float = Field(
        5.0,
        gt=0,
        description="population_within_<N>km counts settlements whose point lies at most this "
        "far (straight line) from the area's polygon. Assumption: the daily range of farming "
        "and foraging around a village.",
    )
    unknown_population: Literal["no_data", "zero"] = Field(
        "no_data",
        description="A settlement without a population figure. 'no_data' (default): an "
        "area's population_within_* is NaN (no data) when any settlement counted for it has "
        "none, so an unknown never reads as '0 people'; scoring's `missing` policy decides. "
        "'zero': such settlements count 0 people (a warning names them).",
    )
    population_travel_min: float = Field(
        30.0,
        gt=0,
        description="population_within_<N>min counts settlements reachable from the area within "
        "this travel time. Assumption: half an hour, a usual accessibility threshold.",
    )
    survivor_radius_min: float = Field(
        60.0,
        gt=0,
        description="A survivor's home village counts for an area (survivors_nearby) when it "
        "is reachable from the area within this travel time. Assumption.",
    )
    remote_threshold_min: float = Field(
        60.0,
        gt=0,
        description="A survivor village is remote when its travel time to the nearest health "
        "facility exceeds this. Assumption after the 'golden hour' of trauma care; IMSMA "
        "records 'travel time to medical facilities' but sets no threshold.",
    )
    unreachable_penalty_min: float = Field(
        600.0,
        gt=0,
        description="Travel time given when the network offers no route (disconnected parts), "
        "so indicators stay finite; a DataWarning names the areas. Assumption: ten hours, "
        "longer than any connected trip in a province.",
    )
    survivor_travel_aggregate: Literal["max", "mean"] = Field(
        "max",
        description="How survivors_travel_min_health combines the survivor villages near an "
        "area: 'max' (the worst-served village, default) or 'mean' (weighted by survivors).",
    )
    chunk_bytes: int = Field(
        200_000_000,
        ge=1_000_000,
        description="Memory budget (bytes) of one block of the travel-time matrix used for "
        "population_within_<N>min and the survivor indicators.",
    )

    @field_validator("road_speeds_kmh")
    @classmethod
    def _positive_speeds(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: s for k, s in v.items() if not s > 0}
        if bad:
            msg = (
                f"criteria.remoteness.road_speeds_kmh: speeds must be > 0 km/h, found {bad}; "
                "remove the class or give it a positive speed"
            )
            raise ValueError(msg)
        return v


class RiskSettings(Frozen):
    """[criteria.risk]: where harm happens, from the accident record and the register itself.

    Every past accident adds ``kernel(distance) x decay(age)`` to the areas near it: a Gaussian
    kernel of the distance from the accident's point to the area's polygon (0 inside) and an
    exponential decay of its age. Sources and reasoning in docs/scoring.md.
    """

    kernel_sigma_m: float = Field(
        500.0,
        gt=0,
        description="Standard deviation (m) of the Gaussian distance kernel. Set so that the "
        "walking reach of an area (about 1 km: people walk to fields within about a "
        "kilometre, and accident points are recorded at the village or field) lies at two "
        "sigmas, where the weight has fallen to 0.14: an accident on the area counts fully, one "
        "at the edge of its reach little, one beyond it almost nothing. The bandwidth is "
        "what most changes how well a kernel density hot-spot map predicts (Chainey 2013; "
        "Hart and Zandbergen 2014). Sources in docs/scoring.md.",
    )
    kernel_cutoff_sigmas: float = Field(
        3.0,
        gt=0,
        description="Accidents further than this many sigmas from an area are ignored "
        "(the Gaussian weight there is below 1.2 %).",
    )
    half_life_months: float = Field(
        24.0,
        gt=0,
        description="An accident's weight halves every this many months. Default: the "
        "Landmine Impact Survey's 24-month window of recent victims, so an accident at the "
        "window's edge still counts half and older ones fade instead of dropping to 0.",
    )
    evidence_weights: dict[str, float] = Field(
        default_factory=lambda: {"direct": 1.0, "indirect": 0.5, "none": 0.0},
        description="Weight of another recorded hazardous area nearby in evidence_nearby, by "
        "its evidence (IMSMA's 'Evidence of Contamination'). Assumption: direct evidence "
        "(devices seen, found, destroyed) counts fully, indirect half.",
    )

    @field_validator("evidence_weights")
    @classmethod
    def _known_evidence(cls, v: dict[str, float]) -> dict[str, float]:
        allowed = {"direct", "indirect", "none"}
        bad = sorted(set(v) - allowed)
        if bad or any(not 0 <= x <= 1 for x in v.values()):
            msg = (
                f"criteria.risk.evidence_weights: keys must be {sorted(allowed)} and weights "
                f"in 0-1 (found {v}); e.g. {{direct = 1.0, indirect = 0.5}}"
            )
            raise ValueError(msg)
        return v


class CriteriaSettings(Frozen):
    """[criteria]: distances, time windows, speeds, grouped by criterion family."""

    contamination: ContaminationSettings = Field(default_factory=ContaminationSettings)
    landuse: LanduseSettings = Field(default_factory=LanduseSettings)
    remoteness: RemotenessSettings = Field(default_factory=RemotenessSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
