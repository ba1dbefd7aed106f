"""The Content-Security-Policy holds on the pages people use: each role's dashboard (plotly charts
drawn) and the API docs (Swagger UI from local files) report no violation, and the check itself
catches one when an inline script is injected."""

import pytest

from tests.browser.test_dashboards import ROLES, open_dashboard, sign_in, wait_for_charts

pytestmark = pytest.mark.django_db

# Collects every violation the browser reports, from the first byte of each page on.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${where}`);
});
"""
VIOLATIONS = "() => window.__cspViolations"


@pytest.fixture
def csp_page(page):
    page.context.add_init_script(COLLECT_VIOLATIONS)
    return page


@pytest.mark.parametrize("role", ROLES)
def test_dashboards_report_no_csp_violation(csp_page, portal, watch, role):
    page = csp_page
    with page.expect_response(f"{portal}/") as first:
        open_dashboard(page, portal, role)
    policy = first.value.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    wait_for_charts(page)
    page.wait_for_timeout(300)  # violations are reported asynchronously
    violations = page.evaluate(VIOLATIONS)
    assert violations == [], "\n".join(violations)
    assert watch.problems() == []


def test_api_docs_report_no_csp_violation(csp_page, portal, watch):
    page = csp_page
    sign_in(page, portal, ROLES["manager"][0])
    with page.expect_response(f"{portal}/api/docs/") as docs:
        page.goto("/api/docs/")
    policy = docs.value.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "script-src 'self' 'unsafe" not in policy
    page.wait_for_selector(".swagger-ui .info .title")  # Swagger UI ran and read our schema
    page.wait_for_timeout(300)
    assert page.evaluate(VIOLATIONS) == []
    assert watch.problems() == []


def test_the_check_catches_an_inline_script(csp_page, portal):
    page = csp_page
    page.goto("/accounts/login/")
    inject = (
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.body.append(s); }"
    )
    page.evaluate(inject)
    page.wait_for_function("() => window.__cspViolations.length > 0")
    assert page.evaluate("() => window.ran") is None
    assert page.evaluate(VIOLATIONS)[0].startswith("script-src-elem blocked inline")
