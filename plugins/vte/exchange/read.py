"""What an exchange export reads: the indicator values of one period in one region, from exactly one publication.

Without ``publication_id`` the values are the published marts (``marts.fct_indicator_values``), read in one
transaction that first takes a share lock on the tables it reads, as the extracts do
(``vte.extracts.query``): a publication cannot complete while the export reads, so the publication named is
the one whose values were read. With ``publication_id`` they are ``history.indicator_values`` as of that
publication (``vte.publication.history``): every value with ``valid_from_publication <= N`` and not closed by
``N``. Which entities lie inside the region is taken from the published registry (``marts.dim_institutions``),
as ``vte diff`` does.

Each value carries its partial mark (``is_partial_period``: its period not over, or its entity's expected report
days not all in), from the marts or as the history recorded it; None for a value the history recorded before it
kept the marks (migration 017).

The region's own value and every level below it are exported: for a province its cities, counties, county
medical communities, institutions, campuses and departments; for a city no province; for a county no city.
Rows come in one fixed order (level from the province down, then codes in code-point order, then the
indicators as ``marts.dim_indicators`` orders them), so the same publication always gives the same file.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterator

import psycopg
from psycopg.rows import dict_row

from vte.extracts.periods import Period
from vte.extracts.query import ExtractDataError, Region, check_region_code, default_region, find_region
from vte.publication import history
from vte.publication.publish import current_publication

LEVELS = ("province", "city", "county", "community", "institution", "campus", "department")
REGION_LEVELS = ("province", "city", "county")
INSTITUTION_LEVELS = ("institution", "campus", "department")
READ_TABLES = ("fct_indicator_values", "dim_indicators", "dim_institutions", "dim_regions")


class ExchangeError(LookupError):
    """What the export cannot do, in one line naming what is wrong and what to do."""


class PublicationError(ExchangeError):
    pass


class RegionError(ExchangeError):
    pass


@dataclass(frozen=True)
class PublicationRef:
    publication_id: int
    published_at: datetime
    current: bool  # the publication now in marts (else read from the history)


@dataclass(frozen=True)
class Indicator:
    indicator_id: str
    name_zh: str
    name_en: str
    numerator_field: str
    denominator_field: str
    higher_is_better: bool | None
    is_supplementary: bool


@dataclass(frozen=True)
class Entity:
    """One row of ``fct_indicator_values``'s entity columns: a region, a community, an institution, one of its
    campuses or one of its departments."""

    level: str
    entity_code: str  # GB/T 2260 code, institution code, or the community's name
    campus: str | None
    department: str | None
    entity_name: str | None
    entity_key: str  # the warehouse's key: level|code[|campus[|department]]


@dataclass(frozen=True)
class Value:
    entity: Entity
    indicator: Indicator
    numerator: int
    denominator: int
    rate: Decimal | None  # percent, 4 decimals; None when the denominator is 0
    is_partial_period: bool | None = None  # None: recorded by the history before it kept the mark


@dataclass(frozen=True)
class Place:
    """What the registry says about an entity's surroundings: a region's parent division, an institution's
    community and county."""

    name: str | None
    parent_code: str | None  # a region's parent division; an institution's county
    community: str | None  # an institution's county medical community


@dataclass
class ExportSource:
    publication: PublicationRef
    region: Region
    period: Period
    indicators: tuple[Indicator, ...]
    entities: tuple[Entity, ...]  # in export order
    regions: dict[str, Place]  # GB/T 2260 code -> its name and parent, for the regions exported
    institutions: dict[str, Place]  # institution code -> its name, county and community
    values: Iterator[Value]  # in export order: by entity, then indicator; valid inside ``open_source`` only


_CURRENT_VALUES = "select * from marts.fct_indicator_values"
_VALUES_AS_OF = """
    select * from history.indicator_values
    where valid_from_publication <= %(publication)s and coalesce(valid_to_publication > %(publication)s, true)
"""

_EXPORT_VALUES = """
    create temporary table exchange_values on commit drop as
    with region_entities as ({in_region}),
    source_values as ({source})
    select source_values.level, source_values.entity_code, source_values.entity_name, source_values.campus,
        source_values.department, source_values.entity_key, source_values.indicator_id,
        source_values.numerator, source_values.denominator, source_values.rate, source_values.is_partial_period
    from source_values
    inner join region_entities
        on region_entities.code = source_values.entity_code
        and region_entities.scope = case when source_values.level in ('department', 'campus', 'institution')
            then 'institution' else source_values.level end
    where source_values.period_type = %(period_type)s and source_values.period_start = %(start)s
"""

_ORDER = """
    order by array_position(array['province', 'city', 'county', 'community', 'institution', 'campus',
                                  'department']::text[], level),
        entity_code collate "C", campus collate "C" nulls first, department collate "C" nulls first
"""

_ENTITIES = f"""
    select * from (
        select distinct level, entity_code, campus, department, entity_name, entity_key from exchange_values
    ) as entities
    {_ORDER}
"""

_VALUES = f"""
    select exchange_values.level, exchange_values.entity_code, exchange_values.campus, exchange_values.department,
        exchange_values.indicator_id, exchange_values.numerator, exchange_values.denominator, exchange_values.rate,
        exchange_values.is_partial_period
    from exchange_values
    left join marts.dim_indicators on dim_indicators.indicator_id = exchange_values.indicator_id
    {_ORDER},
        dim_indicators.is_supplementary nulls last, exchange_values.indicator_id collate "C"
"""

_INDICATORS = """
    select indicator_id, name_zh, name_en, numerator_field, denominator_field, higher_is_better, is_supplementary
    from marts.dim_indicators
    order by is_supplementary, indicator_id collate "C"
"""


def _lock_published_tables(conn: psycopg.Connection) -> None:
    if not conn.execute("select 1 from pg_namespace where nspname = 'marts'").fetchone():
        raise ExchangeError("the marts have never been published: run the pipeline (vte pipeline run) first")
    conn.execute(f"lock table {', '.join(f'marts.{t}' for t in READ_TABLES)} in access share mode")


def _publication(conn: psycopg.Connection, publication_id: int | None) -> PublicationRef:
    current = current_publication(conn)
    if current is None:
        raise PublicationError("no publication of the marts is recorded in ops.publications: "
                               "run the pipeline (vte pipeline run) first")
    if publication_id is None:
        return PublicationRef(current.publication_id, current.published_at, True)
    try:
        history.loaded_through(conn, publication_id)
    except history.HistoryError as exc:
        raise PublicationError(f"{exc}; name one listed there") from None
    [published_at] = conn.execute("select published_at from ops.publications where publication_id = %s",
                                  (publication_id,)).fetchone()
    return PublicationRef(publication_id, published_at, publication_id == current.publication_id)


def _region(conn: psycopg.Connection, code: str | None) -> Region:
    try:
        if code:
            check_region_code(code)
            return find_region(conn, code)
        return default_region(conn)
    except ExtractDataError as exc:
        raise RegionError(str(exc)) from None


def _places(conn: psycopg.Connection, entities: tuple[Entity, ...]) -> tuple[dict[str, Place], dict[str, Place]]:
    region_codes = sorted({e.entity_code for e in entities if e.level in REGION_LEVELS})
    institution_codes = sorted({e.entity_code for e in entities if e.level in INSTITUTION_LEVELS})
    regions = {code: Place(name, parent, None) for code, name, parent in conn.execute(
        "select region_code, region_name, parent_region_code from marts.dim_regions where region_code = any(%s)",
        (region_codes,))}
    institutions = {code: Place(name, county, community) for code, name, county, community in conn.execute(
        "select institution_code, institution_name, county_code, community_name from marts.dim_institutions"
        " where institution_code = any(%s)", (institution_codes,))}
    return regions, institutions


@contextmanager
def open_source(conn: psycopg.Connection, period: Period, region_code: str | None = None,
                publication_id: int | None = None) -> Iterator[ExportSource]:
    """The values of ``period`` in the region (default: the province) from one publication (default: the
    current one). The values stream from the warehouse while the ``with`` block lasts, inside one transaction."""
    with conn.transaction():
        _lock_published_tables(conn)
        publication = _publication(conn, publication_id)
        region = _region(conn, region_code)
        params = {"region": region.code, "period_type": period.period_type, "start": period.start,
                  "publication": publication.publication_id}
        source = _CURRENT_VALUES if publication_id is None else _VALUES_AS_OF
        conn.execute(_EXPORT_VALUES.format(in_region=history.ENTITIES_IN_REGION, source=source), params)
        with conn.cursor(row_factory=dict_row) as cur:
            indicators = tuple(Indicator(**row) for row in cur.execute(_INDICATORS))
            entities = tuple(Entity(**row) for row in cur.execute(_ENTITIES))
        if not entities:
            raise ExchangeError(f"publication {publication.publication_id} holds no indicator values for "
                                f"{period.label} in {region.code} {region.name}: choose a period it published "
                                f"(see marts.fct_indicator_values_history)")
        by_id = {i.indicator_id: i for i in indicators}
        by_key = {(e.level, e.entity_code, e.campus, e.department): e for e in entities}
        regions, institutions = _places(conn, entities)

        def values() -> Iterator[Value]:
            # A named (server-side) cursor: a province's departments are half a million values a month.
            with conn.cursor(name="exchange_values") as cur:
                cur.itersize = 5000
                cur.execute(_VALUES)
                for level, code, campus, department, indicator_id, numerator, denominator, rate, partial in cur:
                    indicator = by_id.get(indicator_id)
                    if indicator is None:
                        raise ExchangeError(f"indicator {indicator_id} of publication {publication.publication_id} "
                                            "is no longer defined in marts.dim_indicators: export it from a "
                                            "publication made with the current definitions")
                    # Sums of counts: PostgreSQL's sum of a bigint is a numeric, always whole here.
                    yield Value(by_key[(level, code, campus, department)], indicator, int(numerator), int(denominator),
                                rate, partial)

        yield ExportSource(publication, region, period, indicators, entities, regions, institutions, values())
