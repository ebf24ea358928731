"""A Help editor in a real browser: writes markdown, sees the preview, publishes, finds it in the API; and is
refused the rest of the back office."""

from __future__ import annotations

import importlib

import httpx
import pytest
from django.contrib.auth.models import Group, Permission

from apps.accounts import group_permissions
from apps.accounts.models import User
from apps.helpcenter.models import Article, Category

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "browser-test-password-1"
BODY = """# Paying a merchant with a QR code

Open **Pay** and scan the merchant's code.

<script>window.__pwned = true</script>

- check the amount
- check the merchant name

[Merchant guide](https://engipay.example/merchants) or [bad](javascript:alert(1))
"""


@pytest.fixture
def help_editor(db) -> User:
    # A transactional test starts from a flushed database: put back what the migrations gave the group (the
    # migration itself is checked in apps/helpcenter/tests/test_admin.py).
    migration = importlib.import_module("apps.helpcenter.migrations.0004_help_editors_permissions")
    group, _ = Group.objects.get_or_create(name=migration.GROUP)
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label="helpcenter", codename__in=group_permissions.codenames(migration.MODELS)
        )
    )
    editor = User.objects.create_user(email="writer@example.com", password=PASSWORD)
    editor.is_staff = True
    editor.save()
    editor.groups.add(group)
    Category.objects.get_or_create(slug="basics", defaults={"name": "Getting Started", "order": 0})
    return editor


def test_help_editor_writes_previews_publishes_and_is_refused_elsewhere(live_server, page, help_editor):
    base = live_server.url
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", help_editor.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    assert page.locator("#site-name").is_visible()

    # Write the article: the preview follows the markdown as it is typed.
    page.goto(f"{base}/admin/helpcenter/article/add/")
    page.locator("#id_title").press_sequentially("Paying merchants by QR code")
    assert page.input_value("#id_slug") == "paying-merchants-by-qr-code"  # the admin's prepopulated slug
    page.fill("#id_description", "Scan, check and sign a merchant payment")
    page.select_option("#id_category", label="Getting Started")
    page.select_option("#id_difficulty", "Beginner")
    page.fill("#id_body", BODY)
    preview = page.locator("#id_body_preview")
    preview.locator("h1").wait_for()
    assert preview.locator("h1").inner_text() == "Paying a merchant with a QR code"
    assert preview.locator("strong").inner_text() == "Pay"
    assert preview.locator("li").count() == 2
    assert preview.locator("script").count() == 0
    assert page.evaluate("window.__pwned === undefined")
    hrefs = [a.get_attribute("href") for a in preview.locator("a").all()]
    assert hrefs == ["https://engipay.example/merchants"]
    preview_html = preview.inner_html()

    page.fill("#id_revision_note", "First draft")
    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/admin/helpcenter/article/")
    article = Article.objects.get(slug="paying-merchants-by-qr-code")
    assert article.status == Article.Status.DRAFT
    assert httpx.get(f"{base}/api/help/articles", params={"search": "merchant QR"}).json()["articles"] == []

    # Publish it with the list's action.
    page.locator(f"input[name=_selected_action][value='{article.pk}']").check()
    page.select_option("select[name=action]", "publish")
    page.click("button[name=index]")
    page.locator(".messagelist").wait_for()
    assert "1 article(s) published." in page.locator(".messagelist").inner_text()

    found = httpx.get(f"{base}/api/help/articles", params={"search": "merchant QR"}).json()
    assert [a["id"] for a in found["articles"]] == ["paying-merchants-by-qr-code"]
    detail = httpx.get(f"{base}/api/help/articles/paying-merchants-by-qr-code").json()
    assert detail["content"] == BODY.strip()  # the form trims; newlines are stored as \n, not CRLF
    # The preview showed what the API serves (the browser re-serialises the same DOM).
    page.set_content(f"<div id=api>{detail['content_html']}</div>")
    assert page.locator("#api").inner_html() == preview_html

    # The rest of the back office is closed to a Help editor.
    for url in ["/admin/accounts/user/", "/admin/accounts/wallet/", "/admin/auth/group/"]:
        response = page.goto(f"{base}{url}")
        assert response.status == 403, url
        assert "Access denied" in page.content()
