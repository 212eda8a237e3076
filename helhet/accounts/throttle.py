"""Login throttling: too many failures for a username or an address lock further attempts for a while."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from helhet.accounts.models import FailedLogin


def _window_start() -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=settings.HELHET_LOGIN_WINDOW_SECONDS)


def is_locked(username: str, address: str) -> bool:
    recent = FailedLogin.objects.filter(at__gte=_window_start())
    by_user = recent.filter(username=username.lower()).count()
    by_address = recent.filter(address=address).count()
    limit = settings.HELHET_LOGIN_MAX_FAILURES
    # An address gets more room than one username: several people may share a clinic's address.
    return by_user >= limit or by_address >= limit * 4


def register_failure(username: str, address: str) -> None:
    FailedLogin.objects.create(username=username.lower(), address=address)
    FailedLogin.objects.filter(at__lt=_window_start() - dt.timedelta(days=1)).delete()


def clear_failures(username: str) -> None:
    FailedLogin.objects.filter(Q(username=username.lower())).delete()
