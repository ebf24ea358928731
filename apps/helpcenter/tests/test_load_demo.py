from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from apps.helpcenter.models import Article, Category, Video

pytestmark = pytest.mark.django_db


def test_load_demo_is_idempotent_and_publishes(tmp_path):
    article = {
        "slug": "getting-started",
        "title": "Getting started",
        "description": "Basics",
        "category": "basics",
        "difficulty": "Beginner",
        "body": "Hello",
    }
    (tmp_path / "articles.json").write_text(json.dumps([article]))
    for _ in range(2):
        call_command("help_load_demo", dir=str(tmp_path), stdout=StringIO())
    assert Article.objects.get().status == Article.Status.PUBLISHED
    assert Article.objects.get().published_at is not None
    assert set(Category.objects.values_list("slug", flat=True)) == {"basics", "wallets", "swaps", "defi", "security"}
    assert not Video.objects.exists()
    assert Article.objects.get().history.count() == 1  # running it again keeps no empty revision


def test_load_demo_records_a_revision_when_the_fixture_changes(tmp_path):
    article = {"slug": "fees", "title": "Fees", "category": "basics", "body": "Old"}
    (tmp_path / "articles.json").write_text(json.dumps([article]))
    call_command("help_load_demo", dir=str(tmp_path), stdout=StringIO())
    (tmp_path / "articles.json").write_text(json.dumps([{**article, "body": "New"}]))
    call_command("help_load_demo", dir=str(tmp_path), stdout=StringIO())
    history = Article.objects.get().history.order_by("history_date")
    assert [h.body for h in history] == ["Old", "New"]


def test_load_demo_keeps_what_an_editor_saved_since(tmp_path, django_user_model):
    article = {"slug": "fees", "title": "Fees", "category": "basics", "body": "From the fixture"}
    (tmp_path / "articles.json").write_text(json.dumps([article]))
    call_command("help_load_demo", dir=str(tmp_path), stdout=StringIO())
    edited = Article.objects.get()
    edited.body = "Rewritten by an editor"
    edited._history_user = django_user_model.objects.create_user(email="ed@example.com")
    edited.save()
    out = StringIO()
    call_command("help_load_demo", dir=str(tmp_path), stdout=out)
    assert Article.objects.get().body == "Rewritten by an editor"
    assert "Kept 1 article(s)" in out.getvalue()


def test_load_demo_reports_missing_files(tmp_path):
    out = StringIO()
    call_command("help_load_demo", dir=str(tmp_path), stdout=out)
    assert "videos.json is missing" in out.getvalue()
    assert "articles.json is missing" in out.getvalue()
