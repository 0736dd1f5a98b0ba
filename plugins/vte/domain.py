"""The domain as data: the 31 count fields, the 18 + 5 indicators and the consistency rules.

They are defined once, as the dbt seeds in ``dbt_project/seeds/``; the intake, the generator, the
Excel channel and the GX suites all read them from there, so a decision is changed in one place.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from itertools import compress
from operator import gt, itemgetter

from vte.config import SEEDS_DIR


@dataclass(frozen=True)
class CountField:
    position: int
    name: str  # the standard's field name, as it crosses the interface
    column: str  # snake_case, inside the warehouse
    label_zh: str
    description_en: str
    excludes_non_assessable: bool
    is_additive: bool


@dataclass(frozen=True)
class Indicator:
    indicator_id: str
    section: str
    name_zh: str
    name_en: str
    numerator: str
    denominator: str
    target_rate: Decimal | None
    higher_is_better: bool | None
    is_supplementary: bool


@dataclass(frozen=True)
class Rule:
    rule_id: str
    lesser: str
    greater: str
    severity: str  # 'quarantine' (a numerator > denominator break) or 'warning'
    indicator_id: str | None

    def is_broken_by(self, row: dict[str, int]) -> bool:
        return row[self.lesser] > row[self.greater]

    def describe_zh(self) -> str:
        fields = fields_by_name()
        return f"{fields[self.lesser].label_zh}（{self.lesser}）不应大于{fields[self.greater].label_zh}（{self.greater}）"

    def describe_en(self) -> str:
        return f"{self.lesser} must not exceed {self.greater}"


def _read_seed(name: str) -> list[dict[str, str]]:
    with open(SEEDS_DIR / f"{name}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _flag(value: str) -> bool | None:
    return {"true": True, "false": False, "": None}[value.strip().lower()]


@cache
def count_fields() -> tuple[CountField, ...]:
    return tuple(
        CountField(
            position=int(r["position"]),
            name=r["field_name"],
            column=r["column_name"],
            label_zh=r["label_zh"],
            description_en=r["description_en"],
            excludes_non_assessable=bool(_flag(r["excludes_non_assessable"])),
            is_additive=bool(_flag(r["is_additive"])),
        )
        for r in sorted(_read_seed("count_fields"), key=lambda r: int(r["position"]))
    )


@cache
def fields_by_name() -> dict[str, CountField]:
    return {f.name: f for f in count_fields()}


def count_field_names() -> tuple[str, ...]:
    return tuple(f.name for f in count_fields())


class DefinitionError(ValueError):
    """A definition in the seeds the warehouse cannot compute correctly."""


@cache
def indicators() -> tuple[Indicator, ...]:
    return indicators_from(_read_seed("indicators"))


def indicators_from(rows: list[dict[str, str]]) -> tuple[Indicator, ...]:
    """The indicators of rows shaped as the indicators seed's. DefinitionError for one on a field that is not
    additive: every indicator is summed over the days of a month and the departments of a region, where such a
    field (distinctDischargeHospital) would count a patient more than once (dbt refuses it too, in
    dim_indicators)."""
    found = tuple(
        Indicator(
            indicator_id=r["indicator_id"],
            section=r["section"],
            name_zh=r["name_zh"],
            name_en=r["name_en"],
            numerator=r["numerator_field"],
            denominator=r["denominator_field"],
            target_rate=Decimal(r["target_rate"]) if r["target_rate"] else None,
            higher_is_better=_flag(r["higher_is_better"]),
            is_supplementary=bool(_flag(r["is_supplementary"])),
        )
        for r in rows
    )
    fields = fields_by_name()
    for ind in found:
        for name in (ind.numerator, ind.denominator):
            if name in fields and not fields[name].is_additive:
                raise DefinitionError(
                    f"indicator {ind.indicator_id} is defined on {name}, which is not additive across days or"
                    " departments (count_fields.is_additive = false), but indicators are summed over months and"
                    " regions: define it on an additive field")
    return found


@cache
def rules() -> tuple[Rule, ...]:
    return tuple(
        Rule(
            rule_id=r["rule_id"],
            lesser=r["lesser_field"],
            greater=r["greater_field"],
            severity=r["severity"],
            indicator_id=r["indicator_id"] or None,
        )
        for r in _read_seed("consistency_rules")
    )


def _getter(names: list[str]):
    """Reads the named fields of a row into a tuple, in C (itemgetter returns a bare value for one name)."""
    return itemgetter(*names) if len(names) > 1 else lambda row: tuple(row[n] for n in names)


@cache
def _rule_operands() -> tuple[tuple[Rule, ...], itemgetter, itemgetter]:
    """Every rule with getters of all their lesser and all their greater fields, read from a row at once."""
    found = rules()
    return found, _getter([r.lesser for r in found]), _getter([r.greater for r in found])


def broken_rules(row: dict[str, int]) -> list[Rule]:
    """The rules a department row breaks (quarantine rules first)."""
    found, lessers, greaters = _rule_operands()
    return list(compress(found, map(gt, lessers(row), greaters(row))))  # compared and picked in C


@dataclass(frozen=True)
class OutlierRule:
    """A count compared with its department's own history (the outlier_rules seed; dbt's macros/outliers.sql
    computes it). The intake judges one submission alone and cannot apply it: it needs the department's earlier
    days, so outliers are found when the warehouse classifies the rows and shown in the feedback report."""

    field: str
    window_days: int
    same_weekday: bool
    min_history_days: int
    warning_z: Decimal
    held_out_z: Decimal | None
    min_scale: Decimal

    @property
    def rule_id(self) -> str:
        return f"O.{self.field}"

    def describe_zh(self) -> str:
        days = "同一星期几" if self.same_weekday else "每天"
        held = f"；高于中位数 {self.held_out_z} 倍尺度时暂不计入指标" if self.held_out_z is not None else ""
        return (f"{fields_by_name()[self.field].label_zh}（{self.field}）与本科室前 {self.window_days} 天（{days}）"
                f"的中位数相差超过 {self.warning_z} 倍尺度时提示（至少 {self.min_history_days} 天历史）{held}")

    def describe_en(self) -> str:
        days = "the same weekday" if self.same_weekday else "every day"
        held = (f"; held out of the indicators above median + {self.held_out_z} × scale"
                if self.held_out_z is not None else "")
        return (f"{self.field} more than {self.warning_z} × scale from its median over the department's previous "
                f"{self.window_days} days ({days}, at least {self.min_history_days} days reported) is a warning{held}")


@cache
def outlier_rules() -> tuple[OutlierRule, ...]:
    return tuple(
        OutlierRule(
            field=r["field_name"],
            window_days=int(r["window_days"]),
            same_weekday=bool(_flag(r["same_weekday"])),
            min_history_days=int(r["min_history_days"]),
            warning_z=Decimal(r["warning_z"]),
            held_out_z=Decimal(r["held_out_z"]) if r["held_out_z"] else None,
            min_scale=Decimal(r["min_scale"]),
        )
        for r in _read_seed("outlier_rules")
    )
