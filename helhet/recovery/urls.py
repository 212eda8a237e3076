from django.urls import URLPattern, URLResolver, path

from helhet.recovery import views

app_name = "recovery"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:pid>/", views.plan_page, name="plan"),
    path("<str:pid>/start/", views.plan_create, name="plan-create"),
    path("<str:pid>/update/", views.plan_update, name="plan-update"),
    path("<str:pid>/pdf/", views.plan_pdf, name="plan-pdf"),
    path("<str:pid>/goals/", views.goal_add, name="goal-add"),
    path("<str:pid>/goals/<int:goal_id>/", views.goal_edit, name="goal-edit"),
    path("<str:pid>/reviews/", views.review_add, name="review-add"),
    path("<str:pid>/comments/", views.comment_add, name="comment-add"),
    path("<str:pid>/proposals/<str:kind>/<int:item_id>/", views.proposal_decide, name="proposal-decide"),
]
