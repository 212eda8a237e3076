"""Edges of the access rules: refused access becomes an audited 403, and the self-report lock holds."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from helhet.accounts.access import AccessDenied

SELF_REPORT_SESSION_KEY = "self_report_lock"


class SelfReportLockMiddleware:
    """While a tablet is handed to a person in self-report mode, only that form (and its exit) is reachable.

    The session holds the one path prefix the lock allows; anything else logs out and returns to the login,
    so the person can never see another page of the clinician's session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        allowed_prefix = request.session.get(SELF_REPORT_SESSION_KEY) if hasattr(request, "session") else None
        if allowed_prefix and not (request.path.startswith(allowed_prefix) or request.path.startswith("/static/")):
            logout(request)
            return redirect("login")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, AccessDenied):
            exception.record()
            # The refused URL may carry a person's id: the language switch must not echo it back.
            context = {"message": exception.message, "language_next": "/"}
            return render(request, "web/denied.html", context, status=403)
        return None
