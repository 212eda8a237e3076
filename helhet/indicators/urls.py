from django.urls import URLPattern, URLResolver, path

from helhet.indicators import views

app_name = "indicators"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("unit/<str:code>/", views.unit_dashboard, name="unit"),
    path("unit/<str:code>/<str:indicator>/persons/", views.persons_behind, name="persons"),
    path("unit/<str:code>/report.pdf", views.report_download, {"level": "unit"}, name="unit-report"),
    path("unit/<str:code>/table.<str:fmt>", views.table_download, {"level": "unit"}, name="unit-table"),
    path("national/", views.area_dashboard, {"level": "national"}, name="national"),
    path("national/report.pdf", views.report_download, {"level": "national"}, name="national-report"),
    path("national/table.<str:fmt>", views.table_download, {"level": "national"}, name="national-table"),
    path("region/<str:code>/", views.area_dashboard, {"level": "region"}, name="region"),
    path("region/<str:code>/report.pdf", views.report_download, {"level": "region"}, name="region-report"),
    path("region/<str:code>/table.<str:fmt>", views.table_download, {"level": "region"}, name="region-table"),
    path("trust/<str:code>/", views.area_dashboard, {"level": "trust"}, name="trust"),
    path("trust/<str:code>/report.pdf", views.report_download, {"level": "trust"}, name="trust-report"),
    path("trust/<str:code>/table.<str:fmt>", views.table_download, {"level": "trust"}, name="trust-table"),
]
