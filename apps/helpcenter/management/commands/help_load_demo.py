"""Upsert the demo help articles and videos from fixtures/help/ (idempotent).

An article an editor has saved since it was loaded (its latest revision has a user) is left as they saved it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.helpcenter import services
from apps.helpcenter.models import Article, Video

CATEGORIES = [
    ("basics", "Getting Started"),
    ("wallets", "Wallets"),
    ("swaps", "Swaps"),
    ("defi", "DeFi"),
    ("security", "Security"),
]


class Command(BaseCommand):
    help = "Load the demo help articles and videos from fixtures/help/ (safe to run again)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dir", default=str(Path(settings.BASE_DIR) / "fixtures" / "help"))

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        folder = Path(options["dir"])
        categories = {
            slug: services.category_upsert(slug=slug, name=name, order=index)
            for index, (slug, name) in enumerate(CATEGORIES)
        }
        articles = self._read(folder / "articles.json")
        kept = 0
        for item in articles or []:
            values = {
                "title": item["title"],
                "description": item.get("description", ""),
                "body": item.get("body", ""),
                "category": categories[item["category"]],
                "difficulty": item.get("difficulty", Article.Difficulty.BEGINNER),
                "status": Article.Status.PUBLISHED,
            }
            article = Article.objects.filter(slug=item["slug"]).first() or Article(slug=item["slug"])
            latest = article.history.order_by("-history_date", "-history_id").first() if article.pk else None
            if latest is not None and latest.history_user_id is not None:
                kept += 1
                continue  # an editor has changed it since it was loaded: their work wins over the fixture
            unchanged = all(getattr(article, field) == value for field, value in values.items())
            if article.pk and unchanged and article.published_at is not None:
                continue  # unchanged: no new revision on every `make run`
            for field, value in values.items():
                setattr(article, field, value)
            services.article_stamp_published(article=article)  # in the same save: the revision and cache see it
            article._change_reason = "Loaded from fixtures/help/articles.json"
            article.save()
        videos = self._read(folder / "videos.json")
        for item in videos or []:
            Video.objects.update_or_create(
                slug=item["slug"],
                defaults={
                    "title": item["title"],
                    "description": item.get("description", ""),
                    "duration": item["duration"],
                    "thumbnail_url": item.get("thumbnail_url", ""),
                    "video_url": item["video_url"],
                    "category": categories[item["category"]],
                    "is_published": True,
                },
            )
        self.stdout.write(f"Help center: {len(articles or [])} article(s), {len(videos or [])} video(s) loaded.")
        if kept:
            self.stdout.write(f"Kept {kept} article(s) as editors last saved them (not overwritten by the fixture).")

    def _read(self, path: Path) -> list[dict[str, Any]] | None:
        if not path.exists():
            self.stdout.write(f"{path} is missing: skipped.")
            return None
        return json.loads(path.read_text(encoding="utf-8"))
