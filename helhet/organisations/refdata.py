"""Load reference data (regions, trusts, municipalities, Oslo districts) from CSV, updating in place."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from helhet.organisations.models import CatchmentDistrict, HealthRegion, HealthTrust, Municipality

DATA_DIR = Path(__file__).resolve().parent / "data"
MUNICIPALITY_COLUMNS = {
    "kommunenummer", "name", "name_official", "fylkesnummer", "county",
    "centrality_class_2024", "centrality_index_2024", "adult_mh_health_trust",
}


class ReferenceDataError(ValueError):
    pass


@dataclass
class LoadSummary:
    regions: int
    trusts: int
    municipalities: int
    districts: int


def _rows(path: Path, required: set[str]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise ReferenceDataError(f"{path.name}: missing columns {', '.join(sorted(missing))}")
        return list(reader)


@transaction.atomic
def load_reference_data(
    *,
    trusts_csv: Path = DATA_DIR / "health_trusts.csv",
    municipalities_csv: Path = DATA_DIR / "municipalities.csv",
    districts_csv: Path = DATA_DIR / "oslo_districts.csv",
) -> LoadSummary:
    regions: dict[str, HealthRegion] = {}
    trusts: dict[str, HealthTrust] = {}
    for row in _rows(trusts_csv, {"code", "name", "region_code", "region_name"}):
        region = regions.get(row["region_code"])
        if region is None:
            region, _ = HealthRegion.objects.update_or_create(
                code=row["region_code"], defaults={"name": row["region_name"]}
            )
            regions[region.code] = region
        trust, _ = HealthTrust.objects.update_or_create(
            code=row["code"], defaults={"name": row["name"], "region": region}
        )
        trusts[trust.name] = trust

    municipalities = 0
    for line, row in enumerate(_rows(municipalities_csv, MUNICIPALITY_COLUMNS), start=2):
        number = row["kommunenummer"].strip()
        if len(number) != 4 or not number.isdigit():
            raise ReferenceDataError(f"{municipalities_csv.name} line {line}: bad kommunenummer {number!r}")
        centrality = int(row["centrality_class_2024"])
        if not 1 <= centrality <= 6:
            raise ReferenceDataError(f"{municipalities_csv.name} line {line}: centrality class {centrality}")
        trust_name = row["adult_mh_health_trust"].strip()
        if trust_name and trust_name not in trusts:
            raise ReferenceDataError(f"{municipalities_csv.name} line {line}: unknown trust {trust_name!r}")
        Municipality.objects.update_or_create(
            number=number,
            defaults={
                "name": row["name"],
                "name_official": row["name_official"],
                "county_number": row["fylkesnummer"],
                "county": row["county"],
                "centrality_class": centrality,
                "centrality_index": int(row["centrality_index_2024"]),
                "catchment_trust": trusts.get(trust_name),
            },
        )
        municipalities += 1

    districts = 0
    for line, row in enumerate(_rows(districts_csv, {"municipality", "district", "adult_mh_health_trust"}), 2):
        if row["adult_mh_health_trust"] not in trusts:
            raise ReferenceDataError(f"{districts_csv.name} line {line}: unknown trust")
        CatchmentDistrict.objects.update_or_create(
            municipality_id=row["municipality"],
            name=row["district"],
            defaults={"catchment_trust": trusts[row["adult_mh_health_trust"]]},
        )
        districts += 1
    return LoadSummary(len(regions), len(trusts), municipalities, districts)
