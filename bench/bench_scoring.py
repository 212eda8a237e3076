"""Benchmark the scoring core against fhir.resources parsing of the same responses.

Generates N random synthetic responses across the scored instruments (about 5 % of
items left unanswered), then times on one core:

1. ``score_response`` on answer dicts (the scoring core);
2. ``extract_answers`` + ``score_response`` on the same responses as FHIR
   QuestionnaireResponse JSON dicts (reading FHIR and scoring);
3. ``observations_for`` on the results (building the Observation dicts);
4. ``fhir.resources`` R4B ``QuestionnaireResponse.model_validate`` on the same dicts
   (parsing only — no scoring).

Each figure is the best of --repeats runs (parsing: --parse-repeats), the usual way to
discount noise from other processes. Usage:

    .venv/bin/python bench/bench_scoring.py [-n 50000] [--seed 1] [--repeats 3] [--parse-repeats 1]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helhet.assessment.fhir_mapping import answer_system, extract_answers, observations_for  # noqa: E402
from helhet.assessment.library import LOINC_SYSTEM, Instrument, get_instrument  # noqa: E402
from helhet.assessment.scoring import score_response  # noqa: E402

INSTRUMENTS = ["phq-9", "gad-7", "audit", "audit-c", "dudit", "scl-10", "living-conditions"]
MISSING_RATE = 0.05
SEXES = ["male", "female", None]


def synthetic_response(
    instrument: Instrument, rng: random.Random, index: int
) -> tuple[dict[str, str], dict[str, Any]]:
    answers: dict[str, str] = {}
    items: list[dict[str, Any]] = []
    for link in instrument.scoring.items:
        if rng.random() < MISSING_RATE:
            continue
        option = rng.choice(instrument.item_by_link[link].options)
        answers[link] = option.code
        coding = (
            {"system": LOINC_SYSTEM, "code": option.loinc, "display": option.display.nb}
            if option.loinc
            else {"system": answer_system(instrument), "code": option.code, "display": option.display.nb}
        )
        items.append({"linkId": link, "answer": [{"valueCoding": coding}]})
    qr = {
        "resourceType": "QuestionnaireResponse",
        "id": f"bench-{index}",
        "questionnaire": instrument.url,
        "status": "completed",
        "subject": {"reference": f"Patient/synthetic-{index % 1000}"},
        "authored": "2026-03-01T10:00:00+01:00",
        "item": items,
    }
    return answers, qr


def best_of(repeats: int, run: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=50_000, help="number of synthetic responses")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parse-repeats", type=int, default=1)
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the requirement says

    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

    rng = random.Random(args.seed)
    instruments = [get_instrument(i) for i in INSTRUMENTS]
    cases = []
    for index in range(args.n):
        instrument = rng.choice(instruments)
        answers, qr = synthetic_response(instrument, rng, index)
        cases.append((instrument, answers, qr, rng.choice(SEXES)))

    def score_only() -> None:
        for instrument, answers, _qr, sex in cases:
            score_response(instrument, answers, sex=sex)

    def read_and_score() -> None:
        for instrument, _answers, qr, sex in cases:
            score_response(instrument, extract_answers(instrument, qr).answers, sex=sex)

    results = [
        (instrument, score_response(instrument, answers, sex=sex), qr)
        for instrument, answers, qr, sex in cases
    ]

    def observations() -> None:
        for instrument, result, qr in results:
            observations_for(
                result,
                instrument,
                subject_ref=qr["subject"]["reference"],
                qr_ref=f"QuestionnaireResponse/{qr['id']}",
                effective=qr["authored"],
            )

    def parse_only() -> None:
        for _instrument, _answers, qr, _sex in cases:
            QuestionnaireResponse.model_validate(qr)

    absent = sum(1 for _i, r, _q in results if r.score is None)
    t_score = best_of(args.repeats, score_only)
    t_read = best_of(args.repeats, read_and_score)
    t_obs = best_of(args.repeats, observations)
    t_parse = best_of(args.parse_repeats, parse_only)

    n = args.n
    print(f"responses: {n} across {', '.join(INSTRUMENTS)} (seed {args.seed}; {absent} with an absent total)")
    print(
        f"python {sys.version.split()[0]}, one core, best of {args.repeats} (parsing: {args.parse_repeats})"
    )
    print(
        f"score_response (answers → ScoreResult):           {n / t_score:>10,.0f} responses/s  "
        f"({t_score / n * 1e6:6.1f} µs each)"
    )
    print(
        f"extract_answers + score_response (QR dict → score): {n / t_read:>8,.0f} responses/s  "
        f"({t_read / n * 1e6:6.1f} µs each)"
    )
    print(
        f"observations_for (ScoreResult → Observation dicts): {n / t_obs:>8,.0f} responses/s  "
        f"({t_obs / n * 1e6:6.1f} µs each)"
    )
    print(
        f"fhir.resources R4B QuestionnaireResponse.model_validate: {n / t_parse:>8,.0f} responses/s  "
        f"({t_parse / n * 1e6:6.1f} µs each)"
    )
    print(f"ratio parse / score_response:                 {t_parse / t_score:6.1f}×")
    print(f"ratio parse / (extract_answers + score):      {t_parse / t_read:6.1f}×")


if __name__ == "__main__":
    main()
