"""Each demo role signs in through the real login form and lands on its dashboard: the charts are
drawn by our own plotly.js, nothing errs in the console, nothing is fetched from another host, a
drill-down leads to the filtered list behind a figure, and the page can be used with a keyboard and
a screen reader and read by someone with low vision. Screenshots: test-artifacts/screenshots/<role>.png."""

from urllib.parse import parse_qsl, urlsplit

import pytest

from prm.operations.demo import DEMO_PASSWORD, load_demo_config
from tests.browser import checks
from tests.browser.conftest import SCREENSHOTS

# The demo data is committed once by the `portal` fixture; each test's own transaction is rolled back.
pytestmark = pytest.mark.django_db

_DEMO = load_demo_config()
_LOGINS = _DEMO["demo_logins"]
_PARTNER_NAME = {p["website_domain"]: p["name"] for p in _DEMO["partners"]}[_LOGINS["partner_admin"]["partner"]]
_CUSTOMER_NAME = {c["external_id"]: c["name"] for c in _DEMO["customers"]}[_LOGINS["customer_admin"]["customer"]]

# role → (login, the dashboard's heading)
ROLES = {
    "manager": (_LOGINS["manager"]["email"], "Program overview"),
    "partner": (_LOGINS["partner_admin"]["email"], _PARTNER_NAME),
    "rep": (_LOGINS["partner_rep"]["email"], _PARTNER_NAME),
    "customer": (_LOGINS["customer_admin"]["email"], _CUSTOMER_NAME),
}
# The main navigation has about thirty links for a manager; the first chart comes after the KPIs and
# the tables before it. Far more presses than that means focus is stuck or the toggle is unreachable.
MAX_TABS = 250


def sign_in(page, portal, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{portal}/")


def open_dashboard(page, portal, role):
    email, heading = ROLES[role]
    sign_in(page, portal, email)
    page.wait_for_load_state("load")
    assert page.locator("main h1").first.inner_text().strip() == heading
    return heading


def wait_for_charts(page):
    """At least one chart on the dashboard, and every chart drawn by plotly."""
    page.wait_for_load_state("load")
    count = page.locator(".chart[data-chart]").count()
    assert count >= 1, "the dashboard shows no chart"
    page.wait_for_function(checks.ALL_CHARTS_RENDERED)
    return count


def test_login_page_works_offline(page, portal, watch):
    page.goto("/accounts/login/")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    assert page.evaluate(checks.UNLABELLED_CONTROLS) == []
    assert page.evaluate(checks.LOW_CONTRAST_TEXT) == []

    # A wrong password is refused on the page, with the form still there.
    page.get_by_label("Email").fill(_LOGINS["manager"]["email"])
    page.get_by_label("Password").fill("not-the-password")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Sign in").click()
    assert navigation.value.status == 200
    assert page.url.startswith(f"{portal}/accounts/login/")
    assert "not correct" in page.get_by_role("alert").first.inner_text()
    assert page.evaluate(checks.LOW_CONTRAST_TEXT) == []  # the error message too

    sign_in(page, portal, _LOGINS["manager"]["email"])
    assert watch.problems() == []
    assert watch.hosts == {urlsplit(portal).netloc}


def test_the_page_checks_find_what_they_look_for(page):
    """The checks the dashboards pass, on a page made to fail them (ratios worked out by hand with the
    WCAG formula: #767676 on white 4.54:1, #777777 4.48:1, #949494 3.03:1, #93c5fd on #1d4ed8 3.72:1)."""
    page.set_content(
        """<body style="background:#fff; margin:0">
        <p style="color:#767676">just enough</p>
        <p id="grey" style="color:#777777">just too light</p>
        <h1 style="color:#949494; font-size:24px">large text needs 3:1</h1>
        <div style="background:#1d4ed8"><a id="pale" href="#x" style="color:#93c5fd">pale link</a>
          <a href="#y" style="color:#fff">white link</a></div>
        <p style="color:#777777" disabled>exempt? no: only controls are</p>
        <button disabled style="color:#ccc">disabled button</button>
        <span style="position:absolute; width:1px; height:1px; overflow:hidden; color:#eee">screen readers only</span>
        <label for="named">Name</label><input id="named">
        <input id="anonymous">
        <input aria-label="Search">
        <span id="period">Period</span><select aria-labelledby="period"></select>
        <select id="dangling" aria-labelledby="nowhere"></select>
        <label>Notes <textarea></textarea></label>
        <input type="hidden" name="token"><input type="submit" value="Go">
        <div class="chart" data-chart="c1"></div>
        </body>"""
    )
    assert page.evaluate(checks.UNLABELLED_CONTROLS) == ["input#anonymous", "select#dangling"]
    assert page.evaluate(checks.LOW_CONTRAST_TEXT) == [
        'p#grey "just too light": 4.48:1 (needs 4.5:1), rgb(119, 119, 119) on rgb(255, 255, 255)',
        'a#pale "pale link": 3.72:1 (needs 4.5:1), rgb(147, 197, 253) on rgb(29, 78, 216)',
        'p "exempt? no: only controls are": 4.48:1 (needs 4.5:1), rgb(119, 119, 119) on rgb(255, 255, 255)',
    ]
    # A chart plotly has not drawn (no plotly.js on this page) is not counted as rendered.
    assert page.evaluate(checks.ALL_CHARTS_RENDERED) is False


@pytest.mark.parametrize("role", ROLES)
def test_dashboard(page, portal, watch, role):
    """One visit per role (each first load parses plotly.js, the slow part): drawn, accessible, drillable."""
    open_dashboard(page, portal, role)
    charts_are_drawn_from_our_own_plotly(page, portal, role)
    controls_are_labelled_and_text_is_legible(page)
    keyboard_reaches_the_navigation_and_the_first_charts_table(page)
    assert watch.problems() == [], "on the dashboard"
    a_drill_down_leads_to_a_filtered_list(page)
    assert watch.problems() == [], "after the drill-down"


def charts_are_drawn_from_our_own_plotly(page, portal, role):
    charts = wait_for_charts(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{role}.png", full_page=True)
    assert charts >= 1
    # plotly.js is ours: served from our static files, never a CDN.
    assert page.evaluate("() => [...document.scripts].map(s => s.src).filter(src => src.includes('plotly'))") == [
        f"{portal}/static/vendor/plotly.min.js"
    ]


def controls_are_labelled_and_text_is_legible(page):
    assert page.evaluate(checks.UNLABELLED_CONTROLS) == [], "form controls without an accessible label"
    assert page.evaluate(checks.LOW_CONTRAST_TEXT) == [], "text below WCAG AA contrast"


def keyboard_reaches_the_navigation_and_the_first_charts_table(page):
    """The first Tab offers the skip link; Tab then reaches the main navigation and the first chart's
    "Show as a table" toggle, which Enter opens."""
    page.locator("body").focus()
    page.keyboard.press("Tab")
    assert page.evaluate(checks.FOCUS)["skipLink"], "the first Tab should focus the skip link"
    reached = {"mainNavigation": False, "firstChartTable": False}
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focus = page.evaluate(checks.FOCUS)
        reached = {name: seen or focus[name] for name, seen in reached.items()}
        if focus["firstChartTable"]:
            break
    assert reached == {"mainNavigation": True, "firstChartTable": True}
    page.keyboard.press("Enter")
    assert page.locator(".chart-table").first.evaluate("details => details.open")


def a_drill_down_leads_to_a_filtered_list(page):
    # A chart's drill-downs are links in its table (the same URLs as the points' customdata); KPIs link too.
    link = page.locator(".chart-table a[href*='?']").first
    if link.count():
        details = link.locator("xpath=ancestor::details[1]")
        if not details.evaluate("details => details.open"):
            details.locator("summary").click()
    else:
        link = page.locator(".kpis a.kpi[href*='?']").first
    assert link.count(), "no drill-down link with a filter on the dashboard"
    href = link.get_attribute("href")

    with page.expect_navigation() as navigation:
        link.click()
    assert navigation.value.status == 200, href
    target = urlsplit(page.url)
    assert target.path == urlsplit(href).path
    query = parse_qsl(target.query)
    assert query, f"{href}: the list is not filtered"
    assert page.locator("main h1").first.inner_text().strip(), href
    # A filtered list page (templates/core/object_list.html): its filter form and result count, and
    # the filter the link asked for is the one applied: the form shows its values.
    assert page.locator("form.filters").count() == 1, href
    assert page.locator(".result-count").first.is_visible(), href
    applied = {name: value for name, value in query if page.locator(f"form.filters [name='{name}']").count()}
    assert applied, f"{href}: none of its parameters is a filter of the list"
    for name, value in applied.items():
        assert page.locator(f"form.filters [name='{name}']").first.input_value() == value, f"{href}: filter {name}"


def test_clicking_a_chart_point_opens_the_list_behind_it(page, portal, watch):
    """charts.js follows a clicked point's customdata: the customer's daily usage bars open that day's events."""
    open_dashboard(page, portal, "customer")
    wait_for_charts(page)
    # The tallest bar of the first bar chart, where it is on the screen, and the URL its point carries.
    bar = page.evaluate(checks.TALLEST_BAR)
    assert bar, "no bar chart on the customer's dashboard"
    assert bar["url"].startswith("/usage/events/?"), bar

    with page.expect_navigation():
        page.mouse.click(bar["x"], bar["y"])
    target = urlsplit(page.url)
    assert f"{target.path}?{target.query}" == bar["url"]
    assert page.locator(".result-count").first.is_visible()
    assert watch.problems() == []
