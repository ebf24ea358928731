from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from redis.exceptions import RedisError

from .models import Article, ArticleVote, Category

logger = logging.getLogger(__name__)

VIEW_WINDOW_SECONDS = 3600
# Search results are cached this long; any content change (a save or delete of an article or category) moves the
# content version, so edits show at once. Only the counters (views, votes) may lag by up to this much.
LIST_CACHE_SECONDS = 60
CONTENT_VERSION_KEY = "helpcenter:content-version"


def content_version() -> int:
    version = cache.get(CONTENT_VERSION_KEY)
    if version is None:  # first use, or evicted: a fresh value never equals a version cached lists still carry
        cache.add(CONTENT_VERSION_KEY, time.time_ns() // 1_000_000, timeout=None)
        version = cache.get(CONTENT_VERSION_KEY, 0)
    return int(version)


def content_changed(**_: Any) -> None:
    """Receiver of post_save/post_delete for articles and categories (apps.py): cached lists become unreachable.
    It acts after the commit, so no request can cache the old rows under the new version."""
    transaction.on_commit(_bump_content_version)


def _bump_content_version() -> None:
    try:
        cache.incr(CONTENT_VERSION_KEY)
    except ValueError:  # not there yet (or evicted): any new value differs from the cached lists' version
        cache.set(CONTENT_VERSION_KEY, time.time_ns() // 1_000_000, timeout=None)
    except RedisError:
        logger.warning("Help center: the list cache could not be invalidated (Redis down); entries expire in 60 s")


def article_list_cached(*, query: dict[str, Any], build: Any) -> dict[str, Any]:
    """The list response for these parameters, from the cache or built and cached; built directly when Redis is
    down (search keeps working without its cache)."""
    params = json.dumps(query, sort_keys=True, default=str)
    try:
        key = f"helpcenter:list:{content_version()}:{hashlib.sha256(params.encode()).hexdigest()[:40]}"
        data = cache.get(key)
    except RedisError:
        logger.warning("Help center: list cache unavailable (Redis down); searching without it")
        return build()
    if data is None:
        data = build()
        try:
            cache.set(key, data, timeout=LIST_CACHE_SECONDS)
        except RedisError:
            logger.warning("Help center: list cache unavailable (Redis down); result not cached")
    return data


def visitor_key(*, user: Any, ip: str, user_agent: str) -> str:
    """Who is reading: the user id when signed in, else a hash of IP and User-Agent (neither is stored)."""
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return hashlib.sha256(f"{ip}|{user_agent}".encode()).hexdigest()


def article_view_record(*, article: Article, visitor: str) -> Article:
    """Count a view at most once per visitor per hour (the cache key lives for the hour)."""
    key = f"helpcenter:view:{article.pk}:{hashlib.sha256(visitor.encode()).hexdigest()[:32]}"
    if cache.add(key, 1, timeout=VIEW_WINDOW_SECONDS):
        Article.objects.filter(pk=article.pk).update(views=F("views") + 1)
        article.refresh_from_db(fields=["views"])
    return article


@transaction.atomic
def article_vote(*, article: Article, user: Any, visitor: str, helpful: bool) -> tuple[Article, bool]:
    """One vote per user (or anonymous visitor); a second vote replaces the first and moves the counters."""
    article = Article.objects.select_for_update().get(pk=article.pk)
    if user is not None and user.is_authenticated:
        lookup: dict[str, Any] = {"user": user}
    else:
        lookup = {"user": None, "visitor": visitor}
    vote = ArticleVote.objects.select_for_update().filter(article=article, **lookup).first()
    if vote is not None and vote.helpful == helpful:
        return article, helpful
    if vote is None:
        ArticleVote.objects.create(
            article=article, visitor=visitor if "visitor" in lookup else "", helpful=helpful, user=lookup["user"]
        )
    else:
        vote.helpful = helpful
        vote.save(update_fields=["helpful", "updated_at"])
        _move(article, helpful=not helpful, delta=-1)
    _move(article, helpful=helpful, delta=1)
    # A queryset update: counters are not content, so a vote leaves no article revision behind.
    Article.objects.filter(pk=article.pk).update(
        helpful_votes=article.helpful_votes, not_helpful_votes=article.not_helpful_votes
    )
    return article, helpful


def _move(article: Article, *, helpful: bool, delta: int) -> None:
    if helpful:
        article.helpful_votes = max(0, article.helpful_votes + delta)
    else:
        article.not_helpful_votes = max(0, article.not_helpful_votes + delta)


def article_vote_for(*, article: Article, user: Any, visitor: str) -> bool | None:
    if user is not None and user.is_authenticated:
        vote = ArticleVote.objects.filter(article=article, user=user).first()
    else:
        vote = ArticleVote.objects.filter(article=article, user=None, visitor=visitor).first()
    return None if vote is None else vote.helpful


def category_upsert(*, slug: str, name: str, order: int) -> Category:
    category, _ = Category.objects.update_or_create(slug=slug, defaults={"name": name, "order": order})
    return category


@transaction.atomic
def articles_set_status(*, articles: Any, status: str) -> int:
    """Admin actions: publishing stamps ``published_at`` once; other statuses keep it."""
    count = 0
    for article in articles:
        if article.status == status:
            continue
        article.status = status
        article._change_reason = f"Status set to {status}"
        article_stamp_published(article=article)
        article.save(update_fields=["status", "published_at", "updated_at"])
        count += 1
    return count


def article_stamp_published(*, article: Article) -> None:
    """A published article carries the moment it was first published; later edits and re-publishing keep it."""
    if article.status == Article.Status.PUBLISHED and article.published_at is None:
        article.published_at = timezone.now()
