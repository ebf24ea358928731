from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.helpcenter.models import Article, ArticleVote
from apps.helpcenter.rendering import render_markdown

from .factories import ArticleFactory, CategoryFactory, VideoFactory

pytestmark = pytest.mark.django_db

ARTICLE_KEYS = {
    "id", "title", "description", "category", "difficulty", "read_time", "content", "views", "helpful_votes",
    "created_at", "updated_at",
}  # fmt: skip


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def library(db):
    basics = CategoryFactory(slug="basics", name="Basics", order=0)
    wallets = CategoryFactory(slug="wallets", name="Wallets", order=1)
    CategoryFactory(slug="security", name="Security", order=2)
    return {
        "start": ArticleFactory(
            slug="getting-started", title="Getting Started with EngiPay", category=basics, body="word " * 1000
        ),
        "wallet": ArticleFactory(
            slug="connect-wallet",
            title="Connecting your wallet",
            category=wallets,
            difficulty="Intermediate",
            body="Use ArgentX or MetaMask to sign in.",
        ),
        "bridge": ArticleFactory(
            slug="bridging",
            title="Bridging assets",
            category=wallets,
            difficulty="Advanced",
            body="Move tokens between chains with a bridge.",
        ),
        "draft": ArticleFactory(slug="secret-draft", title="Draft wallet notes", category=wallets, status="draft"),
    }


def _ids(response) -> list[str]:
    return [a["id"] for a in response.json()["articles"]]


def test_list_has_the_guide_shape(client, library):
    response = client.get("/api/help/articles")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"articles", "total_count", "categories", "limit", "offset", "has_more"}
    assert body["total_count"] == 3
    assert body["categories"] == ["basics", "wallets", "security"]
    assert set(body["articles"][0]) == ARTICLE_KEYS
    start = next(a for a in body["articles"] if a["id"] == "getting-started")
    assert start["read_time"] == "5 min"
    assert start["content"] == library["start"].body
    assert start["category"] == "basics"


def test_drafts_are_invisible(client, library):
    assert "secret-draft" not in _ids(client.get("/api/help/articles"))
    response = client.get("/api/help/articles/secret-draft")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get("/api/help/articles/nope").status_code == 404


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"category": "wallets"}, {"connect-wallet", "bridging"}),
        ({"category": "security"}, set()),
        ({"difficulty": "Advanced"}, {"bridging"}),
        ({"category": "wallets", "difficulty": "Intermediate"}, {"connect-wallet"}),
    ],
)
def test_filters(client, library, params, expected):
    response = client.get("/api/help/articles", params)
    assert response.status_code == 200
    assert set(_ids(response)) == expected
    assert response.json()["total_count"] == len(expected)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category": "nft"}, "category"),
        ({"difficulty": "Expert"}, "difficulty"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"search": "x" * 201}, "search"),
    ],
)
def test_bad_query_is_400_in_the_error_shape(client, library, params, field):
    response = client.get("/api/help/articles", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert field in error["details"]
    assert error["message"]


def test_limit_and_offset(client, library):
    first = client.get("/api/help/articles", {"limit": 2}).json()
    assert len(first["articles"]) == 2
    assert first["has_more"] is True
    second = client.get("/api/help/articles", {"limit": 2, "offset": 2}).json()
    assert len(second["articles"]) == 1
    assert second["has_more"] is False
    assert set(_ids_of(first) + _ids_of(second)) == {"getting-started", "connect-wallet", "bridging"}
    past = client.get("/api/help/articles", {"offset": 50}).json()
    assert past["articles"] == []
    assert past["total_count"] == 3
    assert past["has_more"] is False
    assert len(client.get("/api/help/articles", {"limit": 100}).json()["articles"]) == 3


def _ids_of(body) -> list[str]:
    return [a["id"] for a in body["articles"]]


@pytest.mark.parametrize(
    ("search", "expected_first"),
    [
        ("wallet", "connect-wallet"),
        ("metamask", "connect-wallet"),
        ("bridge", "bridging"),
        ("getting started", "getting-started"),
    ],
)
def test_search_finds_by_title_and_body(client, library, search, expected_first):
    response = client.get("/api/help/articles", {"search": search})
    assert response.status_code == 200
    ids = _ids(response)
    assert ids[0] == expected_first
    assert "secret-draft" not in ids


def test_search_by_prefix(client, library):
    assert _ids(client.get("/api/help/articles", {"search": "brid"}))[0] == "bridging"


def test_search_with_no_match_is_empty(client, library):
    body = client.get("/api/help/articles", {"search": "zzzqqq"}).json()
    assert body["articles"] == []
    assert body["total_count"] == 0


def test_search_survives_query_syntax(client, library):
    for search in ["wallet & | !", "'\"():*", "-", "wallet:*"]:
        assert client.get("/api/help/articles", {"search": search}).status_code == 200


@pytest.mark.skipif(connection.vendor != "sqlite", reason="substring matching is the SQLite fallback")
def test_sqlite_search_matches_substrings(client, library):
    assert "connect-wallet" in _ids(client.get("/api/help/articles", {"search": "etamas"}))


def test_typo_in_title_still_matches_on_postgres(client, library):
    if connection.vendor != "postgresql":
        pytest.skip("trigram similarity is PostgreSQL only")
    assert "connect-wallet" in _ids(client.get("/api/help/articles", {"search": "walet"}))


def test_detail_renders_and_lists_related(client, library):
    response = client.get("/api/help/articles/connect-wallet")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= ARTICLE_KEYS
    assert body["content"] == "Use ArgentX or MetaMask to sign in."
    assert body["content_html"] == "<p>Use ArgentX or MetaMask to sign in.</p>\n"
    assert [r["id"] for r in body["related_articles"]] == ["bridging"]


def test_view_counted_once_per_visitor_per_hour(client, library, make_user, api_client_for):
    client.get("/api/help/articles/bridging")
    client.get("/api/help/articles/bridging")
    assert Article.objects.get(slug="bridging").views == 1
    APIClient(HTTP_USER_AGENT="another browser").get("/api/help/articles/bridging")
    assert Article.objects.get(slug="bridging").views == 2
    user_client = api_client_for(make_user())
    user_client.get("/api/help/articles/bridging")
    response = user_client.get("/api/help/articles/bridging")
    assert Article.objects.get(slug="bridging").views == 3
    assert response.json()["views"] == 3


def test_anonymous_vote_and_change(client, library):
    url = "/api/help/articles/bridging/vote"
    response = client.post(url, {"helpful": True})
    assert response.status_code == 200
    assert response.json() == {"id": "bridging", "helpful_votes": 1, "not_helpful_votes": 0, "your_vote": True}
    assert client.post(url, {"helpful": True}).json()["helpful_votes"] == 1
    changed = client.post(url, {"helpful": False}).json()
    assert changed == {"id": "bridging", "helpful_votes": 0, "not_helpful_votes": 1, "your_vote": False}
    assert ArticleVote.objects.filter(article__slug="bridging").count() == 1


def test_user_vote_is_separate_from_anonymous(client, library, make_user, api_client_for):
    url = "/api/help/articles/bridging/vote"
    client.post(url, {"helpful": True})
    alice = make_user()
    alice_client = api_client_for(alice)
    assert alice_client.post(url, {"helpful": True}).json()["helpful_votes"] == 2
    assert alice_client.post(url, {"helpful": True}).json()["helpful_votes"] == 2
    body = alice_client.post(url, {"helpful": False}).json()
    assert (body["helpful_votes"], body["not_helpful_votes"]) == (1, 1)
    assert ArticleVote.objects.get(article__slug="bridging", user=alice).helpful is False
    article = Article.objects.get(slug="bridging")
    assert (article.helpful_votes, article.not_helpful_votes) == (1, 1)


@pytest.mark.parametrize("payload", [{}, {"helpful": "maybe"}, {"helpful": None}])
def test_bad_vote_is_400(client, library, payload):
    response = client.post("/api/help/articles/bridging/vote", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


def test_vote_on_draft_is_404(client, library):
    assert client.post("/api/help/articles/secret-draft/vote", {"helpful": True}).status_code == 404
    assert not ArticleVote.objects.exists()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)


def test_sanitiser_neutralises_scripts_handlers_and_bad_links():
    body = (
        "# Title\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        "[click](javascript:alert(1)) [ok](https://engipay.example/docs)\n\n"
        '<iframe src="https://evil.example"></iframe>\n\n<a href="javascript:alert(2)" onclick="x()">raw</a>\n'
    )
    html = render_markdown(body)
    parsed = _Tags()
    parsed.feed(html)
    assert {"script", "iframe", "style"}.isdisjoint(parsed.tags)
    assert not [name for name, _ in parsed.attrs if name.startswith("on")]
    assert not [value for name, value in parsed.attrs if name == "href" and "javascript" in (value or "")]
    assert '<a href="https://engipay.example/docs" rel="noopener noreferrer">ok</a>' in html


def test_detail_content_html_is_sanitised(client, library):
    ArticleFactory(slug="evil", body="<script>alert(1)</script> [x](javascript:alert(1))")
    html = client.get("/api/help/articles/evil").json()["content_html"]
    assert "<script" not in html
    assert "href=" not in html


def test_videos_list_and_category_filter(client, library):
    VideoFactory(slug="intro-video", title="Intro", category=library["start"].category)
    VideoFactory(slug="wallet-video", title="Wallets", category=library["wallet"].category)
    VideoFactory(slug="hidden", is_published=False)
    body = client.get("/api/help/videos").json()
    assert body["total_count"] == 2
    assert set(body) == {"videos", "total_count", "limit", "offset", "has_more"}
    assert set(body["videos"][0]) == {
        "id", "title", "description", "duration", "thumbnail_url", "video_url", "category", "views", "created_at",
    }  # fmt: skip
    filtered = client.get("/api/help/videos", {"category": "wallets"}).json()
    assert [v["id"] for v in filtered["videos"]] == ["wallet-video"]
    bad = client.get("/api/help/videos", {"category": "nft"})
    assert bad.status_code == 400
    assert "category" in bad.json()["error"]["details"]


def test_categories_with_counts(client, library):
    body = client.get("/api/help/categories").json()
    assert body == {
        "categories": [
            {"id": "basics", "name": "Basics", "article_count": 1},
            {"id": "wallets", "name": "Wallets", "article_count": 2},
            {"id": "security", "name": "Security", "article_count": 0},
        ]
    }


def test_list_is_cached_until_content_changes(
    client, library, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    first = client.get("/api/help/articles", {"search": "bridge"}).json()
    with django_assert_max_num_queries(0):
        assert client.get("/api/help/articles", {"search": "bridge"}).json() == first
    library["bridge"].title = "Bridging assets between chains"
    with django_capture_on_commit_callbacks() as callbacks:
        library["bridge"].save()
    # Before the commit the old list is still served (nothing caches old rows under the new version)...
    assert client.get("/api/help/articles", {"search": "bridge"}).json() == first
    for callback in callbacks:
        callback()  # ...and after it the edit shows at once.
    titles = [a["title"] for a in client.get("/api/help/articles", {"search": "bridge"}).json()["articles"]]
    assert "Bridging assets between chains" in titles
    library["bridge"].status = "draft"
    with django_capture_on_commit_callbacks(execute=True):
        library["bridge"].save()
    assert "bridging" not in _ids(client.get("/api/help/articles", {"search": "bridge"}))
    # Other parameters are other entries.
    assert client.get("/api/help/articles", {"search": "bridge", "limit": 1}).json()["limit"] == 1


def test_a_request_the_paginator_reads_differently_cannot_fill_another_pages_cache(client, library):
    odd = client.get("/api/help/articles", {"limit": "1.0", "offset": "1.0"}).json()
    exact = client.get("/api/help/articles", {"limit": 1, "offset": 1}).json()
    assert (exact["limit"], exact["offset"], len(exact["articles"])) == (1, 1, 1)
    assert (odd["limit"], odd["offset"]) != (1, 1) or odd == exact
