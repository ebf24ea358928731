"""The editors' markdown field: a textarea beside a live preview rendered by the API's own renderer."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse


class MarkdownEditor(forms.Textarea):
    template_name = "helpcenter/widgets/markdown_editor.html"

    class Media:
        css = {"all": ["helpcenter/markdown_editor.css"]}
        js = ["helpcenter/markdown_editor.js"]

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"rows": 24, "class": "markdown-source", "spellcheck": "true", **(attrs or {})})

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["preview_url"] = reverse("admin:helpcenter_article_preview")
        return context
