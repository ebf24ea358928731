"""The editors' back office: least privilege, live preview, revisions with restore, actions and filters."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.helpcenter.models import Article

from .factories import ArticleFactory, CategoryFactory
from .test_api import _Tags

pytestmark = pytest.mark.django_db

HOSTILE = (
    "# Title\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n"
    "[click](javascript:alert(3)) and [ok](https://engipay.example)\n\n<a href='#' onclick='x()'>raw</a>"
)


def _staff(email: str, *groups: str) -> User:
    user = User.objects.create_user(email=email, password="pw-for-tests-only")
    user.is_staff = True
    user.save()
    user.groups.set(Group.objects.filter(name__in=groups))
    return user


@pytest.fixture
def editor() -> Client:
    client = Client()
    client.force_login(_staff("editor@example.com", "Help editors"))
    return client


@pytest.fixture
def outsider() -> Client:
    """Staff, but in no group: may enter the admin and see nothing."""
    client = Client()
    client.force_login(_staff("outsider@example.com"))
    return client


def _form(article: Article, **changes) -> dict:
    data = {
        "title": article.title, "slug": article.slug, "description": article.description,
        "category": article.category_id, "difficulty": article.difficulty, "status": article.status,
        "body": article.body, "revision_note": "",
    }  # fmt: skip
    data.update(changes)
    return data


def test_help_editors_group_holds_only_help_center_permissions():
    perms = set(Group.objects.get(name="Help editors").permissions.values_list("content_type__app_label", "codename"))
    assert {label for label, _ in perms} == {"helpcenter"}
    for model in ["article", "category", "video"]:
        assert {("helpcenter", f"{action}_{model}") for action in ["add", "change", "delete", "view"]} <= perms
    assert ("helpcenter", "view_historicalarticle") in perms
    assert not any(codename.endswith("articlevote") for _, codename in perms)  # votes name users


def test_editor_sees_the_help_center_and_nothing_else(editor):
    index = editor.get("/admin/")
    assert index.status_code == 200
    apps = {app["app_label"] for app in index.context["app_list"]}
    assert apps == {"helpcenter"}
    for model in [Article, *[m for m in admin.site._registry if m._meta.app_label == "helpcenter"]]:
        assert editor.get(reverse(f"admin:helpcenter_{model._meta.model_name}_changelist")).status_code == 200


def test_editor_gets_403_on_every_other_admin_page(editor):
    """Users, wallets, transactions, KYC, support...: whatever else is registered in the admin is refused."""
    others = [m for m in admin.site._registry if m._meta.app_label != "helpcenter"]
    assert User in others
    for model in others:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = editor.get(url)
        assert response.status_code == 403, url
    page = editor.get(reverse("admin:accounts_user_changelist"))
    assert b"Access denied" in page.content
    assert page["Content-Type"].startswith("text/html")


def test_preview_renders_exactly_what_the_api_returns(editor):
    article = ArticleFactory(slug="hostile", body=HOSTILE)
    preview = editor.post(reverse("admin:helpcenter_article_preview"), {"body": HOSTILE})
    assert preview.status_code == 200
    html = preview.json()["html"]
    assert html == APIClient().get(f"/api/help/articles/{article.slug}").json()["content_html"]
    assert "<h1>Title</h1>" in html
    tags = _Tags()
    tags.feed(html)
    assert "script" not in tags.tags
    assert not [name for name, _ in tags.attrs if name.startswith("on")]
    assert [value for name, value in tags.attrs if name == "href"] == ["https://engipay.example"]


def test_preview_is_for_editors_only(outsider):
    assert outsider.post(reverse("admin:helpcenter_article_preview"), {"body": "x"}).status_code == 403
    anonymous = Client().post(reverse("admin:helpcenter_article_preview"), {"body": "x"})
    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous["Location"]


def test_preview_accepts_post_only(editor):
    assert editor.get(reverse("admin:helpcenter_article_preview")).status_code == 405


def test_the_editor_page_carries_the_live_preview(editor):
    article = ArticleFactory()
    page = editor.get(reverse("admin:helpcenter_article_change", args=[article.pk])).content.decode()
    assert 'data-preview-for="id_body"' in page
    assert reverse("admin:helpcenter_article_preview") in page
    assert "helpcenter/markdown_editor.js" in page


def test_editing_keeps_revisions_and_an_old_one_can_be_restored(editor):
    CategoryFactory(slug="basics")
    new = Article(title="Fees", slug="fees", description="About fees", difficulty="Beginner", status="draft",
                  category=CategoryFactory(slug="basics"), body="First text.")  # fmt: skip
    created = editor.post(reverse("admin:helpcenter_article_add"), _form(new))
    assert created.status_code == 302, created.content
    article = Article.objects.get(slug="fees")
    url = reverse("admin:helpcenter_article_change", args=[article.pk])
    edited = editor.post(url, _form(article, body="Second text.", revision_note="Rewrote the intro"))
    assert edited.status_code == 302
    article.refresh_from_db()
    assert article.body == "Second text."

    revisions = list(article.history.order_by("history_date"))
    assert [r.body for r in revisions] == ["First text.", "Second text."]
    assert [r.history_change_reason for r in revisions] == ["Created", "Rewrote the intro"]
    assert revisions[0].history_user.email == "editor@example.com"

    history_page = editor.get(reverse("admin:helpcenter_article_history", args=[article.pk]))
    assert history_page.status_code == 200
    assert b"Rewrote the intro" in history_page.content

    first = revisions[0]
    restore_url = reverse("admin:helpcenter_article_simple_history", args=[article.pk, first.history_id])
    restore_page = editor.get(restore_url)
    assert restore_page.status_code == 200
    assert b"First text." in restore_page.content
    restored = editor.post(restore_url, _form(first.instance))
    assert restored.status_code == 302
    article.refresh_from_db()
    assert article.body == "First text."
    latest = article.history.latest("history_date")
    assert latest.body == "First text."
    assert latest.history_change_reason == f"Restored revision {first.history_id}"
    assert article.history.count() == 3


def test_outsider_cannot_open_history_or_restore(outsider):
    article = ArticleFactory()
    version = article.history.latest("history_date").history_id
    assert outsider.get(reverse("admin:helpcenter_article_history", args=[article.pk])).status_code == 403
    url = reverse("admin:helpcenter_article_simple_history", args=[article.pk, version])
    assert outsider.post(url, _form(article, body="hijack")).status_code == 403
    article.refresh_from_db()
    assert article.body != "hijack"


def test_votes_and_views_leave_no_revision(editor):
    article = ArticleFactory(slug="counted")
    before = article.history.count()
    client = APIClient()
    assert client.get("/api/help/articles/counted").status_code == 200
    assert client.post("/api/help/articles/counted/vote", {"helpful": True}, format="json").status_code == 200
    assert article.history.count() == before


def test_publish_unpublish_archive_actions(editor):
    draft = ArticleFactory(slug="draft-one", status="draft", published_at=None)
    changelist = reverse("admin:helpcenter_article_changelist")
    assert APIClient().get("/api/help/articles/draft-one").status_code == 404

    response = editor.post(changelist, {"action": "publish", "_selected_action": [draft.pk]})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "published"
    assert draft.published_at is not None
    assert draft.history.latest("history_date").history_change_reason == "Status set to published"
    assert APIClient().get("/api/help/articles/draft-one").status_code == 200
    first_published = draft.published_at

    editor.post(changelist, {"action": "unpublish", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert APIClient().get("/api/help/articles/draft-one").status_code == 404

    editor.post(changelist, {"action": "publish", "_selected_action": [draft.pk]})
    editor.post(changelist, {"action": "archive", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == "archived"
    assert draft.published_at == first_published


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"views": "0"}, {"unread"}),
        ({"views": "100-999"}, {"popular"}),
        ({"views": "1000+"}, {"famous"}),
        ({"helpfulness": "helpful"}, {"popular"}),
        ({"helpfulness": "unhelpful"}, {"famous"}),
        ({"helpfulness": "none"}, {"unread"}),
        ({"status": "draft"}, {"unread"}),
        ({"difficulty": "Advanced"}, {"famous"}),
        ({"q": "liquidation"}, {"famous"}),
    ],
)
def test_changelist_filters(editor, query, expected):
    ArticleFactory(slug="unread", status="draft", views=0)
    ArticleFactory(slug="popular", views=150, helpful_votes=9, not_helpful_votes=1)
    ArticleFactory(slug="famous", views=5000, helpful_votes=2, not_helpful_votes=7, difficulty="Advanced",
                   body="How liquidation works")  # fmt: skip
    response = editor.get(reverse("admin:helpcenter_article_changelist"), query)
    assert response.status_code == 200
    assert {a.slug for a in response.context["cl"].result_list} == expected


def test_related_articles_chosen_by_editors_come_first():
    basics = CategoryFactory(slug="basics")
    other = CategoryFactory(slug="other")
    article = ArticleFactory(slug="main", category=basics)
    ArticleFactory(slug="same-category", category=basics, views=10)
    pick = ArticleFactory(slug="picked", category=other)
    hidden = ArticleFactory(slug="picked-draft", category=other, status="draft")
    article.related.add(pick, hidden)
    related = APIClient().get("/api/help/articles/main").json()["related_articles"]
    assert [r["id"] for r in related] == ["picked", "same-category"]


def test_view_only_staff_cannot_restore_a_revision():
    viewer = _staff("viewer@example.com")
    viewer.user_permissions.add(Permission.objects.get(codename="view_article"))
    client = Client()
    client.force_login(viewer)
    article = ArticleFactory(body="Original")
    version = article.history.latest("history_date").history_id
    url = reverse("admin:helpcenter_article_simple_history", args=[article.pk, version])
    assert client.post(url, _form(article, title="Viewer wrote this")).status_code == 403
    article.refresh_from_db()
    assert article.title != "Viewer wrote this"


def test_an_article_is_never_its_own_related_article(editor):
    article = ArticleFactory(slug="me")
    ArticleFactory(slug="other", category=article.category)
    article.related.add(article)
    assert [r["id"] for r in APIClient().get("/api/help/articles/me").json()["related_articles"]] == ["other"]
    response = editor.post(
        reverse("admin:helpcenter_article_change", args=[article.pk]), {**_form(article), "related": [article.pk]}
    )
    assert response.status_code == 200  # the form comes back with the error
    assert b"cannot be related to itself" in response.content
