"""Web UI routes for kith.ideas (mounted under /ideas/)."""

from django.urls import path

from kith.ideas import views

app_name = "ideas"

urlpatterns = [
    path("", views.home, name="home"),
    path("new/", views.new, name="new"),
    path("mine/", views.mine, name="mine"),
    path("board/", views.board, name="board"),
    path("categories/", views.categories, name="categories"),
    path("<uuid:public_id>/", views.idea, name="idea"),
    path("<uuid:public_id>/vote/", views.vote, name="vote"),
    path("<uuid:public_id>/follow/", views.follow, name="follow"),
    path("<uuid:public_id>/comment/", views.comment, name="comment"),
    path("<uuid:public_id>/edit/", views.edit, name="edit"),
    path("<uuid:public_id>/comments/<uuid:comment_id>/edit/", views.edit, name="edit_comment"),
    path("<uuid:public_id>/status/", views.change_status, name="status"),
    path("<uuid:public_id>/merge/", views.merge, name="merge"),
    path("<uuid:public_id>/credit/", views.credit, name="credit"),
    path("<uuid:public_id>/link/", views.link, name="link"),
]
