"""The synthetic population's steps. Apps add their own in `synth_steps.py`:

    @synth_step(order=300, name="assessments")
    def assessments(ctx: SynthContext) -> None: ...

Steps run in `order`; each reads what earlier steps made from `ctx` (persons and
their episodes as light records with database ids) and writes with bulk inserts.
They draw every random number from `ctx.rng`, so a seed reproduces the population.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


@dataclass
class SynthEpisode:
    id: int
    unit_id: int
    unit_kind: str
    inpatient: bool
    start_date: dt.date
    end_date: dt.date | None
    status: str


@dataclass
class SynthPerson:
    id: int
    pid: str
    sex: str
    birth_year: int
    municipality: str
    centrality_class: int
    substance: list[str]
    mental: list[str]
    first_contact: dt.date
    consent_next_of_kin: bool
    catchment_trust_id: int | None = None
    episodes: list[SynthEpisode] = field(default_factory=list)


@dataclass
class SynthContext:
    rng: random.Random
    seed: int
    today: dt.date
    start: dt.date
    requested_persons: int = 0
    persons: list[SynthPerson] = field(default_factory=list)
    units: dict[str, list[Any]] = field(default_factory=dict)  # unit kind -> ServiceUnit list
    counts: dict[str, int] = field(default_factory=dict)
    show_progress: bool = True

    def progress(self, items: Iterable[T], *, total: int | None = None, desc: str) -> Iterator[T]:
        return iter(tqdm(items, total=total, desc=desc, unit=" rows", disable=not self.show_progress,
                         mininterval=0.5, leave=False))

    def count(self, name: str, n: int) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


StepFunction = Callable[[SynthContext], None]


@dataclass(frozen=True)
class SynthStep:
    order: int
    name: str
    function: StepFunction


STEPS: list[SynthStep] = []


def synth_step(*, order: int, name: str) -> Callable[[StepFunction], StepFunction]:
    def register(function: StepFunction) -> StepFunction:
        STEPS.append(SynthStep(order, name, function))
        STEPS.sort(key=lambda step: step.order)
        return function

    return register


def chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start: start + size]
