from django.urls import path

from . import views

# Mounted at "api/help/".
urlpatterns = [
    path("articles", views.ArticleListView.as_view(), name="help-articles"),
    path("articles/<slug:slug>", views.ArticleDetailView.as_view(), name="help-article"),
    path("articles/<slug:slug>/vote", views.ArticleVoteView.as_view(), name="help-article-vote"),
    path("videos", views.VideoListView.as_view(), name="help-videos"),
    path("categories", views.CategoryListView.as_view(), name="help-categories"),
]
