"""Care pathways across levels. The foundation holds episodes of care, which define care relationships."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from helhet.organisations.models import ServiceUnit
from helhet.persons.models import Person


class EpisodeStatus(models.TextChoices):
    # FHIR EpisodeOfCare.status
    PLANNED = "planned", _("Planned")
    WAITLIST = "waitlist", _("Waiting list")
    ACTIVE = "active", _("Active")
    ONHOLD = "onhold", _("On hold")
    FINISHED = "finished", _("Finished")
    CANCELLED = "cancelled", _("Cancelled")


# Statuses in which the unit is responsible for the person, and so has a care relationship.
RESPONSIBLE_STATUSES = (EpisodeStatus.WAITLIST, EpisodeStatus.ACTIVE, EpisodeStatus.ONHOLD)


class EpisodeOfCare(models.Model):
    """A period in which a unit (or ACT/FACT team) is responsible for a person."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="episodes")
    unit = models.ForeignKey(ServiceUnit, on_delete=models.PROTECT, related_name="episodes")
    status = models.CharField(max_length=10, choices=EpisodeStatus.choices, default=EpisodeStatus.ACTIVE)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    identifier = models.CharField(max_length=64, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["-start_date"]
        indexes = [models.Index(fields=["unit", "status"]), models.Index(fields=["person", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="episode_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.person.pid} @ {self.unit.code} from {self.start_date}"

    def is_responsible_on(self, day: dt.date) -> bool:
        return (
            self.status in RESPONSIBLE_STATUSES
            and self.start_date <= day
            and (self.end_date is None or self.end_date >= day)
        )


def responsible_episodes(day: dt.date | None = None) -> models.QuerySet[EpisodeOfCare]:
    """Episodes that give their unit a care relationship on `day` (today by default)."""
    day = day or dt.date.today()
    return EpisodeOfCare.objects.filter(
        Q(end_date__isnull=True) | Q(end_date__gte=day),
        status__in=RESPONSIBLE_STATUSES,
        start_date__lte=day,
    )
