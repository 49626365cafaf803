"""The values that validation passes around: a case to run and what came of it.

Cases cross a process boundary twice (parent → worker, worker → parent), so both are plain
dataclasses with a JSON form; nothing here imports torch or the code under test.
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass, field
from typing import Any


class Status(enum.StrEnum):
    """What came of one case. Only PASS, SKIP and UNAVAILABLE are not failures (unless strict)."""

    PASS = "pass"
    FAIL = "fail"  # ran, and a number is outside its tolerance or a check did not hold
    ERROR = "error"  # raised an exception before it could judge anything
    CRASH = "crash"  # the worker process died (signal, CUDA fault) or hung while running it
    SKIP = "skip"  # chose not to run here, with a reason (e.g. an upstream test's own skip)
    UNAVAILABLE = "unavailable"  # the tree under test lacks the feature the case checks

    @property
    def failed(self) -> bool:
        return self in (Status.FAIL, Status.ERROR, Status.CRASH)


@dataclass(frozen=True)
class Case:
    """One thing to check: `suite` and `name` identify it; `params` are the suite's own (JSON)."""

    suite: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.suite}::{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "name": self.name, "params": self.params}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        return cls(suite=data["suite"], name=data["name"], params=dict(data.get("params", {})))


@dataclass
class CaseResult:
    """The verdict on one case (a case may produce several, e.g. one per upstream test).

    `value` is the judged number (an error, a statistic, a rate) in units of `metric`, shown next
    to `tolerance`; `detail` says in words what was seen; `info` holds further numbers that are
    reported but not judged (e.g. which kernel class ran, a second error measure).
    """

    suite: str
    name: str
    status: Status
    metric: str | None = None
    value: float | None = None
    tolerance: float | None = None
    detail: str = ""
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.suite}::{self.name}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        for key in ("value", "tolerance"):  # JSON has no NaN/inf; keep them readable
            number = data[key]
            if isinstance(number, float) and not math.isfinite(number):
                data[key] = str(number)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        def number(raw: Any) -> float | None:
            return None if raw is None else float(raw)

        return cls(
            suite=data["suite"],
            name=data["name"],
            status=Status(data["status"]),
            metric=data.get("metric"),
            value=number(data.get("value")),
            tolerance=number(data.get("tolerance")),
            detail=data.get("detail", ""),
            seconds=float(data.get("seconds", 0.0)),
            info=dict(data.get("info", {})),
        )


def judge_at_most(value: float, tolerance: float) -> Status:
    """PASS when `value <= tolerance`; a NaN never passes."""
    return Status.PASS if (not math.isnan(value) and value <= tolerance) else Status.FAIL
