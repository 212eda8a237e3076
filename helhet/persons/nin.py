"""Norwegian national identity numbers: fødselsnummer, D-number, H-number and synthetic test numbers.

Pure functions, no Django. An 11-digit number DDMMYY III K1 K2 is valid when both
mod-11 check digits hold and the date (after the D/H/synthetic offsets) exists.
Weights from Skatteetaten's specification of the fødselsnummer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

_K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


class InvalidNationalId(ValueError):
    """The number is not a valid Norwegian national identity number; the message says why."""


class NationalIdKind(StrEnum):
    FODSELSNUMMER = "fnr"
    D_NUMBER = "dnr"  # day + 40: foreign nationals with a temporary connection
    H_NUMBER = "hnr"  # month + 40: help numbers in health care
    SYNTHETIC = "synthetic"  # month + 80: Skatteetaten's synthetic test numbers (Tenor)


@dataclass(frozen=True)
class NationalId:
    value: str
    kind: NationalIdKind
    birth_date: dt.date


def _check_digit(digits: str, weights: tuple[int, ...]) -> int | None:
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    check = (11 - remainder) % 11
    return None if check == 10 else check


def check_digits(first_nine: str) -> str | None:
    """The two check digits for nine leading digits, or None where no valid number exists."""
    k1 = _check_digit(first_nine, _K1_WEIGHTS)
    if k1 is None:
        return None
    k2 = _check_digit(first_nine + str(k1), _K2_WEIGHTS)
    if k2 is None:
        return None
    return f"{k1}{k2}"


def _century(individual: int, two_digit_year: int) -> int | None:
    # Skatteetaten: the individual number's range gives the century.
    if individual <= 499:
        return 1900
    if individual <= 749 and two_digit_year >= 54:
        return 1800
    if individual >= 900 and two_digit_year >= 40:
        return 1900
    if two_digit_year <= 39:
        return 2000
    return None


def parse_national_id(raw: str) -> NationalId:
    value = raw.replace(" ", "").strip()
    if len(value) != 11 or not value.isdigit():
        raise InvalidNationalId("a national identity number has exactly 11 digits")
    if check_digits(value[:9]) != value[9:]:
        raise InvalidNationalId("the check digits do not match (mod 11)")
    day, month, year2, individual = int(value[0:2]), int(value[2:4]), int(value[4:6]), int(value[6:9])
    kind = NationalIdKind.FODSELSNUMMER
    if day > 40:
        kind, day = NationalIdKind.D_NUMBER, day - 40
    if month > 80:
        kind, month = NationalIdKind.SYNTHETIC, month - 80
    elif month > 40:
        kind, month = NationalIdKind.H_NUMBER, month - 40
    century = _century(individual, year2)
    if century is None:
        raise InvalidNationalId("the individual number does not fit the year of birth")
    try:
        birth_date = dt.date(century + year2, month, day)
    except ValueError:
        raise InvalidNationalId("the first six digits are not a valid date of birth") from None
    return NationalId(value=value, kind=kind, birth_date=birth_date)


def make_synthetic_national_id(birth_date: dt.date, individual: int) -> str | None:
    """A synthetic (month + 80) number for test data, or None where that individual number has no check digits."""
    year2 = birth_date.year % 100
    first_nine = f"{birth_date.day:02d}{birth_date.month + 80:02d}{year2:02d}{individual:03d}"
    digits = check_digits(first_nine)
    return None if digits is None else first_nine + digits
