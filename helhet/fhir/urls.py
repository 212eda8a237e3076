from django.urls import path, re_path

from helhet.fhir import openapi, views

app_name = "fhir"
urlpatterns = [
    path("metadata", views.metadata, name="metadata"),
    path("openapi.json", openapi.openapi_view, name="openapi"),
    path("", views.endpoint, name="base"),
    re_path(r"^(?P<resource_type>[A-Z][A-Za-z]+)$", views.endpoint, name="type"),
    re_path(r"^(?P<resource_type>[A-Z][A-Za-z]+)/\$(?P<operation>[a-z][a-z-]*)$", views.endpoint, name="type-op"),
    re_path(r"^(?P<resource_type>[A-Z][A-Za-z]+)/(?P<resource_id>[A-Za-z0-9\-.]{1,64})$", views.endpoint,
            name="instance"),
]
