from django.urls import URLPattern, URLResolver, path

from helhet.pathways import views

app_name = "pathways"

_person_forms = [
    ("referral/", "referral_new"),
    ("referral/<int:referral_id>/receive/", "referral_receive"),
    ("referral/<int:referral_id>/assess/", "referral_assess"),
    ("decision/", "decision_new"),
    ("admission/", "admission_new"),
    ("discharge/", "discharge_new"),
    ("contact/", "contact_new"),
    ("plan/", "plan_new"),
    ("coordinator/", "coordinator_new"),
    ("meeting/", "meeting_new"),
    ("next-of-kin/", "next_of_kin_new"),
    ("evaluation/", "evaluation_new"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("alerts/", views.alert_worklist, name="alerts"),
    path("referrals/", views.referrals, name="referrals"),
    path("<str:pid>/", views.timeline, name="timeline"),
    *[path(f"<str:pid>/{route}", views.recorder(name), name=name)
      for route, name in _person_forms],
]
