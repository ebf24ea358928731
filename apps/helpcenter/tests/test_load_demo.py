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


def test_load_demo_reports_missing_files(tmp_path):
    out = StringIO()
    call_command("help_load_demo", dir=str(tmp_path), stdout=out)
    assert "videos.json is missing" in out.getvalue()
    assert "articles.json is missing" in out.getvalue()
