"""The indicators' main-menu entry (no person panel: indicators are aggregates)."""

from django.utils.translation import gettext_noop as N_

from helhet.accounts.models import Role
from helhet.web.context import add_navigation

add_navigation(label=N_("Indicators"), url_name="indicators:index",
               roles=(Role.CLINICIAN, Role.TEAM_LEADER, Role.ANALYST), order=60)
