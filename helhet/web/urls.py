from django.contrib.auth.views import LogoutView
from django.urls import path

from helhet.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("worklist/", views.worklist, name="worklist"),
    path("persons/new/", views.register_person, name="register-person"),
    path("persons/<str:pid>/", views.person_page, name="person"),
]
