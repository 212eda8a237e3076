from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("fhir/", include("helhet.fhir.urls")),
    path("assessment/", include("helhet.assessment.urls")),
    path("pathways/", include("helhet.pathways.urls")),
    path("recovery/", include("helhet.recovery.urls")),
    path("teams/", include("helhet.teams.urls")),
    path("indicators/", include("helhet.indicators.urls")),
    path("", include("helhet.web.urls")),
]
