from django.urls import URLPattern, URLResolver

app_name = "recovery"
urlpatterns: list[URLPattern | URLResolver] = []
