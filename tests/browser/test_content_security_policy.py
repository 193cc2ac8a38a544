"""In a real browser, under the Content-Security-Policy and Permissions-Policy every page is served with:
the sign-in page, the console (its scripts: select-all, actions, the change form) and the API docs (Swagger UI,
which builds the whole page from script) work, and the browser reports no violation, neither as a
``securitypolicyviolation`` event nor in the console. The OAuth consent form goes on to the application's
redirect URI, which ``form-action`` governs (Chromium applies it to the redirect that answers the form)."""

import re
from contextlib import contextmanager

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.oauth import PASSWORD, REDIRECT_URI, authorize_url, make_application, person, pkce_pair
from tests.support.oauth import query_of, totp_code, totp_device

pytestmark = pytest.mark.django_db(transaction=True)

# Runs in every page before its own scripts (Playwright injects it, the page's policy does not apply to it).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""
POLICY_MESSAGES = re.compile(r"Content.Security.Policy|Permissions.Policy|Refused to|violates", re.IGNORECASE)
# A browser that lacks a feature the Permissions-Policy denies says so; there is nothing to deny there.
UNKNOWN_FEATURE = re.compile(r"Permissions-Policy header: Unrecognized feature")


@pytest.fixture
def watched(page):
    """The page, with every policy violation and policy complaint it reports collected in ``page.problems``."""
    page.problems = []
    page.context.add_init_script(RECORD_VIOLATIONS)
    def on_console(message):
        if message.type in ("error", "warning") and POLICY_MESSAGES.search(message.text) \
                and not UNKNOWN_FEATURE.search(message.text):
            page.problems.append(f"console {message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
    return page


def violations(page):
    return page.problems + [f"event: {v}" for v in page.evaluate("window.__violations || []")]


@contextmanager
def reporting_violations(page):
    """What was blocked, rather than a timeout, when a page that waits for the UI never gets there."""
    try:
        yield
    except PlaywrightTimeout:
        assert page.problems == [], page.problems
        raise


def sign_in(page, email, code=None, open_page=True):
    if open_page:
        page.goto("/login")
    page.fill("#id_email", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    if code is not None:
        page.wait_for_url(re.compile(r"/login/verify"))
        page.fill("#id_code", code)
        page.click("button[type=submit]")


def test_the_sign_in_page_works_under_the_policy(watched, tenant):
    developer = person(tenant, "developer")
    response = watched.goto("/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "camera=()" in response.headers["permissions-policy"]
    assert violations(watched) == []
    sign_in(watched, developer.user.email)
    watched.wait_for_url(re.compile(r"/account$"))
    assert developer.user.email in watched.inner_text("h1")
    watched.goto("/account/security")
    assert violations(watched) == []


def test_a_form_refused_for_its_csrf_token_is_a_page_the_policy_allows(watched, tenant):
    """Django's own CSRF failure page styles itself inline, which the policy blocks; ours does not."""
    watched.goto("/login")
    watched.context.clear_cookies()  # the page was open too long: its CSRF cookie is gone
    watched.fill("#id_email", "someone@example.com")
    watched.fill("#id_password", PASSWORD)
    with watched.expect_response(re.compile(r"/login$")) as refused:
        watched.click("button[type=submit]")
    assert refused.value.status == 403
    assert watched.inner_text("h1") == "Forbidden"
    assert "reload the page and send it again" in watched.inner_text("main")
    assert watched.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") != "none", "styled"
    assert violations(watched) == []


def test_the_console_works_under_the_policy(watched, tenant, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    admin = person(tenant, "admin")
    device = totp_device(admin.user)
    person(tenant, "developer")
    person(tenant, "viewer")
    watched.goto("/admin/")
    watched.wait_for_url(re.compile(r"/login"))
    sign_in(watched, admin.user.email, totp_code(device), open_page=False)  # and back to the console
    watched.wait_for_url(re.compile(r"/admin/$"))
    assert "Administrator console" in watched.inner_text("body")

    # The list's scripts: "select all" ticks every row and the action bar counts them (admin/js/actions.js).
    watched.goto("/admin/accounts/member/")
    rows = watched.locator("input.action-select")
    assert rows.count() == 3
    watched.check("#action-toggle")
    assert all(rows.nth(i).is_checked() for i in range(rows.count()))
    assert re.search(r"3 of 3 selected", watched.inner_text(".action-counter"))

    # A change form, with the admin's form scripts.
    watched.locator("#result_list tbody a").first.click()
    watched.wait_for_url(re.compile(r"/admin/accounts/member/.+/change/"))
    assert watched.locator("form#member_form").count() == 1

    # The date widget's script (admin/js/admin/DateTimeShortcuts.js) adds its "Today" link, which fills the field.
    watched.goto("/admin/accounts/accessreview/add/")
    watched.click(".datetimeshortcuts a:has-text('Today')")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", watched.input_value("input[name=due_date]"))
    watched.goto("/admin/audit/auditevent/")
    assert violations(watched) == []


def test_the_api_docs_work_under_the_policy(watched, tenant, settings):
    settings.OPENPAAS_PUBLIC_DOCS = True
    watched.goto("/api/v1/docs")
    with reporting_violations(watched):
        watched.wait_for_selector(".opblock", timeout=20_000)  # Swagger UI built the operations from the schema
    assert watched.locator(".opblock").count() > 10
    assert "Open PaaS API" in watched.inner_text(".info .title")
    watched.locator(".opblock-summary").first.click()  # expands: the UI answers
    watched.wait_for_selector(".opblock.is-open")
    assert violations(watched) == []


def test_the_consent_form_reaches_the_application_s_redirect_uri(watched, tenant):
    developer = person(tenant, "developer")
    application, _ = make_application(tenant)
    arrived = []

    def application_callback(route):
        arrived.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p>signed in to the partner portal</p>")

    watched.route(re.compile(r"^https://app\.example\.com/"), application_callback)
    sign_in(watched, developer.user.email)
    watched.wait_for_url(re.compile(r"/account$"))
    watched.goto(authorize_url(application, challenge=pkce_pair()[1], state="s-42"))
    assert "Authorize Partner portal?" in watched.inner_text("h1")
    watched.click("button[name=allow]")
    with reporting_violations(watched):
        watched.wait_for_url(re.compile(r"^https://app\.example\.com/callback\?"))
    assert len(arrived) == 1 and arrived[0].startswith(REDIRECT_URI + "?")
    query = query_of(arrived[0])
    assert query["state"] == "s-42" and query["code"]
    assert violations(watched) == []


def test_a_refused_consent_also_reaches_the_application(watched, tenant):
    developer = person(tenant, "developer")
    application, _ = make_application(tenant)
    arrived = []
    watched.route(re.compile(r"^https://app\.example\.com/"),
                  lambda route: (arrived.append(route.request.url), route.fulfill(status=200, body="ok")))
    sign_in(watched, developer.user.email)
    watched.wait_for_url(re.compile(r"/account$"))
    watched.goto(authorize_url(application, challenge=pkce_pair()[1]))
    watched.click("button.secondary")  # Cancel
    with reporting_violations(watched):
        watched.wait_for_url(re.compile(r"^https://app\.example\.com/callback\?"))
    assert query_of(arrived[0])["error"] == "access_denied"
    assert violations(watched) == []
