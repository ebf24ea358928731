from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from apps.helpcenter import selectors, services
from apps.helpcenter.models import Article
from apps.helpcenter.rendering import render_markdown
from engipay.api.pagination import paginator_for
from engipay.api.validation import ErrorSerializer, validated

from .serializers import (
    ArticleDetailOutput,
    ArticleListInput,
    ArticleOutput,
    ArticlePageOutput,
    CategoryListOutput,
    VideoListInput,
    VideoOutput,
    VideoPageOutput,
    VoteInput,
    VoteOutput,
)

ARTICLE = {
    "id": "getting-started",
    "title": "Getting Started with EngiPay",
    "description": "Learn the basics of connecting your wallet",
    "category": "basics",
    "difficulty": "Beginner",
    "read_time": "5 min",
    "content": "# Getting started\n\nConnect your wallet from the top right corner...",
    "views": 1250,
    "helpful_votes": 45,
    "created_at": "2024-01-20T10:30:00Z",
    "updated_at": "2024-01-24T10:30:00Z",
}
LIST_EXAMPLE = OpenApiExample(
    "Search results",
    value={
        "articles": [ARTICLE],
        "total_count": 1,
        "limit": 20,
        "offset": 0,
        "has_more": False,
        "categories": ["basics", "wallets", "swaps", "defi", "security"],
    },
    response_only=True,
)
DETAIL_EXAMPLE = OpenApiExample(
    "An article",
    value={
        **ARTICLE,
        "not_helpful_votes": 3,
        "content_html": "<h1>Getting started</h1>\n<p>Connect your wallet from the top right corner...</p>\n",
        "published_at": "2024-01-20T10:30:00Z",
        "related_articles": [
            {
                "id": "fees",
                "title": "Understanding fees",
                "description": "What you pay and why",
                "difficulty": "Beginner",
                "read_time": "3 min",
            }
        ],
    },
    response_only=True,
)
BAD_CATEGORY_EXAMPLE = OpenApiExample(
    "Unknown category",
    value={
        "error": {
            "code": "invalid_input",
            "message": 'category: Unknown category "nft".',
            "details": {"category": ['Unknown category "nft".']},
        }
    },
    response_only=True,
    status_codes=["400"],
)
NOT_FOUND_EXAMPLE = OpenApiExample(
    "No such published article",
    value={"error": {"code": "not_found", "message": "Not found.", "details": {}}},
    response_only=True,
    status_codes=["404"],
)
VIDEOS_EXAMPLE = OpenApiExample(
    "Videos",
    value={
        "videos": [
            {
                "id": "intro-video",
                "title": "EngiPay Introduction",
                "description": "Complete overview of EngiPay features",
                "duration": "5:30",
                "thumbnail_url": "https://example.com/intro.jpg",
                "video_url": "https://example.com/intro.mp4",
                "category": "basics",
                "views": 2500,
                "created_at": "2024-01-20T10:30:00Z",
            }
        ],
        "total_count": 1,
        "limit": 20,
        "offset": 0,
        "has_more": False,
    },
    response_only=True,
)
PAGE_PARAMETERS = [
    OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 100, default 20"),
    OpenApiParameter("offset", OpenApiTypes.INT, description="0 or more, default 0"),
]


def _visitor(request: Request) -> str:
    ip = AnonRateThrottle().get_ident(request)  # honours NUM_PROXIES like the throttles do
    return services.visitor_key(user=request.user, ip=ip, user_agent=request.headers.get("User-Agent", ""))


class ArticleListView(APIView):
    permission_classes = [AllowAny]
    paginator_class = paginator_for("articles")

    @extend_schema(
        tags=["help"],
        summary="Search and list help articles",
        operation_id="help_articles_list",
        description=(
            "Published articles. `search` matches words and word prefixes in the title, description and content "
            "(ranked, title first) and tolerates small typos. Results are cached for up to a minute (an edit shows at "
            "once; `views` and `helpful_votes` may lag). Beyond the guide: `limit`, `offset`, `has_more`."
        ),
        parameters=[
            OpenApiParameter("search", OpenApiTypes.STR, description="Up to 200 characters"),
            OpenApiParameter("category", OpenApiTypes.STR, description="A category slug, e.g. wallets"),
            OpenApiParameter("difficulty", OpenApiTypes.STR, enum=Article.Difficulty.values),
            *PAGE_PARAMETERS,
        ],
        responses={200: ArticlePageOutput, 400: ErrorSerializer, 429: ErrorSerializer},
        examples=[LIST_EXAMPLE, BAD_CATEGORY_EXAMPLE],
        auth=[],
    )
    def get(self, request: Request) -> Response:
        query = validated(ArticleListInput, request.query_params)
        paginator = self.paginator_class()
        # The cache key holds the page exactly as the paginator reads it ("5.0" passes validation as 5 but the
        # paginator falls back to its default), so one request can never fill another page's entry.
        key = {**query, "limit": paginator.get_limit(request), "offset": paginator.get_offset(request)}

        def build() -> dict:
            qs = selectors.article_list(
                search=query["search"], category=query["category"], difficulty=query.get("difficulty", "")
            )
            page = paginator.paginate_queryset(qs, request, view=self)
            data = ArticleOutput(page, many=True).data
            return paginator.get_paginated_response(data, categories=selectors.category_slugs()).data

        return Response(services.article_list_cached(query=key, build=build))


class ArticleDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["help"],
        summary="One help article",
        description=(
            "A published article with its Markdown `content`, the sanitised `content_html` and up to three related "
            "articles. Reading it counts a view, at most once an hour per reader."
        ),
        responses={200: ArticleDetailOutput, 404: ErrorSerializer, 429: ErrorSerializer},
        examples=[DETAIL_EXAMPLE, NOT_FOUND_EXAMPLE],
        auth=[],
    )
    def get(self, request: Request, slug: str) -> Response:
        article = selectors.article_get_published(slug=slug)
        article = services.article_view_record(article=article, visitor=_visitor(request))
        article.content_html = render_markdown(article.body)
        article.related_articles = selectors.article_related(article=article)
        return Response(ArticleDetailOutput(article).data)


class ArticleVoteView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["help"],
        summary="Was this article helpful?",
        description="One vote per signed-in user or anonymous reader; voting again replaces the earlier vote.",
        request=VoteInput,
        responses={200: VoteOutput, 400: ErrorSerializer, 404: ErrorSerializer, 429: ErrorSerializer},
        examples=[
            OpenApiExample("Helpful", value={"helpful": True}, request_only=True),
            OpenApiExample(
                "Counters after the vote",
                value={"id": "getting-started", "helpful_votes": 46, "not_helpful_votes": 3, "your_vote": True},
                response_only=True,
            ),
            NOT_FOUND_EXAMPLE,
        ],
    )
    def post(self, request: Request, slug: str) -> Response:
        article = selectors.article_get_published(slug=slug)
        data = validated(VoteInput, request.data)
        article, vote = services.article_vote(
            article=article, user=request.user, visitor=_visitor(request), helpful=data["helpful"]
        )
        body = {
            "id": article.slug,
            "helpful_votes": article.helpful_votes,
            "not_helpful_votes": article.not_helpful_votes,
            "your_vote": vote,
        }
        return Response(VoteOutput(body).data)


class VideoListView(APIView):
    permission_classes = [AllowAny]
    paginator_class = paginator_for("videos")

    @extend_schema(
        tags=["help"],
        summary="Help videos",
        operation_id="help_videos_list",
        parameters=[OpenApiParameter("category", OpenApiTypes.STR, description="A category slug"), *PAGE_PARAMETERS],
        responses={200: VideoPageOutput, 400: ErrorSerializer, 429: ErrorSerializer},
        examples=[VIDEOS_EXAMPLE, BAD_CATEGORY_EXAMPLE],
        auth=[],
    )
    def get(self, request: Request) -> Response:
        query = validated(VideoListInput, request.query_params)
        paginator = self.paginator_class()
        page = paginator.paginate_queryset(selectors.video_list(category=query["category"]), request, view=self)
        return paginator.get_paginated_response(VideoOutput(page, many=True).data)


class CategoryListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["help"],
        summary="Help categories",
        operation_id="help_categories_list",
        responses={200: CategoryListOutput, 429: ErrorSerializer},
        examples=[
            OpenApiExample(
                "Categories",
                value={"categories": [{"id": "basics", "name": "Basics", "article_count": 6}]},
                response_only=True,
            )
        ],
        auth=[],
    )
    def get(self, request: Request) -> Response:
        return Response(CategoryListOutput({"categories": selectors.category_list()}).data)
