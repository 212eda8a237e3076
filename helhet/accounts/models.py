"""Users, their roles and the units they work in."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from helhet.organisations.models import HealthRegion, ServiceUnit
from helhet.persons.models import Person


class Role(models.TextChoices):
    CLINICIAN = "clinician", _("Clinician")
    TEAM_LEADER = "team_leader", _("Team leader")
    ANALYST = "analyst", _("Regional analyst")
    ADMINISTRATOR = "administrator", _("Administrator")
    SERVICE_USER = "service_user", _("Service user")


STAFF_ROLES = (Role.CLINICIAN, Role.TEAM_LEADER)


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CLINICIAN)
    units: models.ManyToManyField[ServiceUnit, StaffMembership] = models.ManyToManyField(ServiceUnit, through="StaffMembership", blank=True, related_name="staff")
    # For service users: the person this login belongs to.
    person = models.OneToOneField(Person, null=True, blank=True, on_delete=models.CASCADE, related_name="login")
    # For analysts: the region they analyse (None = national).
    region = models.ForeignKey(HealthRegion, null=True, blank=True, on_delete=models.PROTECT)

    @property
    def is_staff_clinical(self) -> bool:
        return self.role in STAFF_ROLES


class StaffMembership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    unit = models.ForeignKey(ServiceUnit, on_delete=models.CASCADE, related_name="memberships")
    # Professional role in the team (psychiatrist, nurse, peer specialist ...) and full-time equivalent.
    profession = models.CharField(max_length=40, blank=True)
    fte = models.DecimalField(max_digits=3, decimal_places=2, default=1)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "unit"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.unit}"


class FailedLogin(models.Model):
    """A failed login attempt, for throttling."""

    username = models.CharField(max_length=150, db_index=True)
    address = models.CharField(max_length=45, db_index=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.username} at {self.at}"
