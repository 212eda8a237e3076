from django.urls import URLPattern, URLResolver, path

from helhet.teams import views

app_name = "teams"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.team_list, name="list"),
    path("region/", views.region_view, name="region"),
    path("region/export/<str:fmt>/", views.region_export, name="region-export"),
    path("<slug:code>/", views.team_profile, name="profile"),
    path("<slug:code>/details/", views.team_details, name="details"),
    path("<slug:code>/reviews/new/", views.review_new, name="review-new"),
    path("<slug:code>/reviews/export/<str:fmt>/", views.team_export, name="export"),
    path("<slug:code>/reviews/<int:review_id>/", views.review_report, name="review"),
    path("<slug:code>/reviews/<int:review_id>/pdf/", views.review_pdf, name="review-pdf"),
    path("<slug:code>/board/<str:pid>/", views.board_change, name="board"),
]
