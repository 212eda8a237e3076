from django.urls import URLPattern, URLResolver, path

from helhet.assessment import views

app_name = "assessment"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:pid>/", views.choose_instrument, name="choose"),
    path("<str:pid>/new/<str:instrument_id>/", views.fill_in, name="fill-in"),
    path("<str:pid>/results/<int:administration_id>/", views.result, name="result"),
    path("<str:pid>/tablet/<str:instrument_id>/", views.start_self_report, name="self-report-start"),
    # Everything under self-report/<instrument_id>/ is what the self-report lock lets through.
    path("<str:pid>/self-report/<str:instrument_id>/", views.self_report, name="self-report"),
    path("<str:pid>/self-report/<str:instrument_id>/stop/", views.stop_self_report, name="self-report-stop"),
    path("<str:pid>/profile.pdf", views.profile_pdf, name="profile-pdf"),
]
