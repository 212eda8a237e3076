"""Computation rules, one per ``source_rule`` key of the indicator definitions.

Importing this package registers every rule in ``base.RULES``.
"""

from helhet.indicators.rules import assessment, pathways, recovery, teams  # noqa: F401
from helhet.indicators.rules.base import RULES, Dialect, Rule, Sql

__all__ = ["RULES", "Dialect", "Rule", "Sql"]
