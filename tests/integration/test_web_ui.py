"""The operators' web page (/ui/) in headless Chromium against a real gateway, database and
broker: it loads without a key under a strict policy, shows projects, groups and device
presence, sends a join request and follows its status live, and explains refused keys and roles.

The join-dispatcher is not running here: the test plays its part with SQL on join_requests and
join_deliveries, which is all the page reads. Chromium is Debian's package (CI installs it); the
tests fail, not skip, without it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Locator,
    Page,
    Request,
    expect,
    sync_playwright,
)

from tests.integration.db_fixtures import TestDatabase
from tests.integration.gateway_fixtures import Gateway
from tests.integration.pipeline import execute, query
from tests.support import wait_until

pytestmark = pytest.mark.integration

CHROMIUM = Path(os.environ.get("IOT_CHROMIUM", "/usr/bin/chromium"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Polling is every second; this leaves room for a slow CI machine.
LIVE_TIMEOUT_MS = 8_000


@dataclass
class Fleet:
    """What the test registered through the API: device ids by name."""

    devices: dict[str, str]


@dataclass
class Tab:
    """A page with the errors it logged and every request it made."""

    page: Page
    errors: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    @property
    def api_requests(self) -> list[Request]:
        return [request for request in self.requests if "/api/" in request.url]

    def watch(self) -> None:
        self.page.on("pageerror", self._page_error)
        self.page.on("console", self._console)
        self.page.on("request", self._request)

    def _page_error(self, error: Error) -> None:
        self.errors.append(f"page error: {error}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _request(self, request: Request) -> None:
        self.requests.append(request)

    def sign_in(self, key: str) -> None:
        self.page.get_by_label("API key", exact=True).fill(key)
        self.page.get_by_role("button", name="Continue").click()

    def group(self, name: str) -> Locator:
        return self.page.get_by_role("article", name=name, exact=True)

    def open_join_form(self, group: str) -> Locator:
        self.group(group).get_by_role("button", name="Join session").click()
        dialog = self.page.get_by_role("dialog", name="Join session")
        expect(dialog).to_be_visible()
        return dialog


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium) "
            "or point IOT_CHROMIUM at one"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    opened = Tab(context.new_page())
    opened.watch()
    try:
        yield opened
    finally:
        context.close()
    # The browser logs refused API calls (the tests cause some) but nothing else: no script
    # error, and no Content-Security-Policy or Trusted Types violation.
    unexpected = [e for e in opened.errors if not e.startswith("Failed to load resource")]
    assert not unexpected, unexpected


def register_fleet(gateway: Gateway, database: TestDatabase) -> Fleet:
    """Project "studio" with groups cameras (2 devices) and mics (1); one camera online."""
    admin = gateway.client("admin")
    assert admin.post("/projects", json={"id": "studio", "name": "Studio A"}).status_code == 201
    for group, comments in (("cameras", "PTZ cameras on stage"), ("mics", "")):
        created = admin.post("/projects/studio/groups", json={"name": group, "comments": comments})
        assert created.status_code == 201, created.text
    devices: dict[str, str] = {}
    for name, group in (
        ("Camera north", "cameras"),
        ("Camera south", "cameras"),
        ("Mic 1", "mics"),
    ):
        registered = admin.post("/projects/studio/devices", json={"name": name, "group": group})
        assert registered.status_code == 201, registered.text
        devices[name] = registered.json()["id"]
    execute(
        database.admin_url,
        "UPDATE devices SET last_seen_at = now() - interval '5 seconds' WHERE id = %s",
        devices["Camera north"],
    )
    execute(
        database.admin_url,
        "UPDATE devices SET last_seen_at = now() - interval '2 hours' WHERE id = %s",
        devices["Mic 1"],
    )
    return Fleet(devices)


def save_screenshot(page: Page, tmp_path: Path) -> Path:
    """A full-page PNG in tmp_path, copied to $IOT_UI_SCREENSHOT when that is set."""
    path = tmp_path / "web-ui.png"
    page.screenshot(path=str(path), full_page=True)
    if wanted := os.environ.get("IOT_UI_SCREENSHOT"):
        Path(wanted).parent.mkdir(parents=True, exist_ok=True)
        Path(wanted).write_bytes(path.read_bytes())
    return path


def test_page_loads_without_a_key_under_a_strict_policy(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=10) as anonymous:
        page = anonymous.get("/ui/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'none'"
        for directive in ("script-src", "style-src", "connect-src", "img-src"):
            assert directives[directive] == "'self'", directive
        assert directives["frame-ancestors"] == "'none'"
        assert "unsafe" not in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        # No inline script: every <script> has a src, and no handler attributes.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)
        assert not re.search(r"\son[a-z]+=", page.text)

        script = anonymous.get("/ui/js/main.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert script.headers["content-security-policy"] == policy
        revalidated = anonymous.get(
            "/ui/js/main.js", headers={"If-None-Match": script.headers["etag"]}
        )
        assert revalidated.status_code == 304

        assert anonymous.get("/ui").headers["location"] == "/ui/"
        for missing in (
            "/ui/nope.js",
            "/ui/../pages.py",
            "/ui/%2e%2e/pages.py",
            "/ui/static/app.css",
        ):
            assert anonymous.get(missing).status_code == 404, missing
        # The API itself still wants a key.
        assert anonymous.get("/api/v1/projects").status_code == 401


def test_operator_sees_presence_and_follows_a_join_live(
    gateway: Gateway, database: TestDatabase, tab: Tab, tmp_path: Path
) -> None:
    fleet = register_fleet(gateway, database)
    key = gateway.keys["operator"]
    tab.page.goto(f"{gateway.url}/ui/")
    tab.sign_in(key)
    expect(tab.page.get_by_role("heading", name="Studio A")).to_be_visible()
    expect(tab.page.get_by_text("test-operator · operator")).to_be_visible()
    check_presence(tab, fleet)

    request_id = send_join(tab, database)
    play_dispatcher(tab, database, fleet, request_id)

    screenshot = save_screenshot(tab.page, tmp_path)
    content = screenshot.read_bytes()
    assert content.startswith(PNG_SIGNATURE)
    assert len(content) > 10_000

    # Everything came from the gateway, and the key travelled only in the Authorization header
    # of API calls: never in a URL, kept in this tab's session storage.
    assert all(request.url.startswith(f"{gateway.url}/") for request in tab.requests)
    assert tab.api_requests
    for request in tab.api_requests:
        assert request.headers.get("authorization") == f"Bearer {key}", request.url
        assert key not in request.url
    assert key not in tab.page.url
    assert tab.page.evaluate("sessionStorage.getItem('iot.api-key')") == key

    # A reload signs in from session storage and finds each group's newest request again.
    tab.page.reload()
    expect(tab.group("cameras").locator(".join-summary")).to_have_text(
        "“Stage rehearsal” in progress: 1 of 2 joined, 1 failed."
    )


def check_presence(tab: Tab, fleet: Fleet) -> None:
    """Each group's devices with their presence, as register_fleet left them."""
    cameras, mics = tab.group("cameras"), tab.group("mics")
    expect(cameras).to_contain_text("PTZ cameras on stage")
    expect(cameras).to_contain_text("2 devices · 1 online")
    north = cameras.locator(f'tr[data-device="{fleet.devices["Camera north"]}"]')
    expect(north).to_contain_text("Camera north")
    expect(north.locator(".presence")).to_have_text("online")
    expect(north).to_contain_text(re.compile(r"just now|\d+\s+s ago"))
    south = cameras.locator(f'tr[data-device="{fleet.devices["Camera south"]}"]')
    expect(south.locator(".presence")).to_have_text("offline")
    expect(south).to_contain_text("never")
    mic = mics.locator(f'tr[data-device="{fleet.devices["Mic 1"]}"]')
    expect(mic.locator(".presence")).to_have_text("offline")
    expect(mic).to_contain_text("2 h ago")
    expect(mics.locator(".join-summary")).to_have_text("None yet.")


def send_join(tab: Tab, database: TestDatabase) -> Any:
    """Fill in the cameras' join form; the request row holds what was typed. Its id."""
    dialog = tab.open_join_form("cameras")
    expect(dialog).to_contain_text("group cameras in project studio")
    dialog.get_by_label("Session id").fill("rehearsal-7")
    dialog.get_by_label("Session name").fill("Stage rehearsal")
    dialog.get_by_label("Session metadata").fill('{"stage": 2, "cue": "intro"}')
    dialog.get_by_label("Deadline").fill("90s")
    dialog.get_by_role("button", name="Send join request").click()
    expect(dialog).to_be_hidden()

    rows = wait_until(
        lambda: query(
            database.admin_url,
            "SELECT id, session_id, session_name, session_metadata, requested_by,"
            " extract(epoch FROM deadline - requested_at) FROM join_requests"
            " WHERE project_id = 'studio' AND group_name = 'cameras'",
        ),
        10,
        "the join request row",
    )
    assert len(rows) == 1
    request_id, session_id, session_name, metadata, requested_by, seconds = rows[0]
    assert (session_id, session_name, requested_by) == (
        "rehearsal-7",
        "Stage rehearsal",
        "test-operator",
    )
    assert metadata == {"stage": 2, "cue": "intro"}
    assert 85 <= float(seconds) <= 91
    expect(tab.group("cameras").locator(".join-summary")).to_have_text(
        "“Stage rehearsal” is waiting for the dispatcher."
    )
    return request_id


def play_dispatcher(tab: Tab, database: TestDatabase, fleet: Fleet, request_id: Any) -> None:
    """Do in SQL what the dispatcher and the devices would; the page follows each step."""
    cameras = tab.group("cameras")
    status = cameras.locator(".join-summary")
    expect(status).to_have_attribute("aria-live", "polite")
    north, south = fleet.devices["Camera north"], fleet.devices["Camera south"]
    execute(
        database.admin_url,
        "UPDATE join_requests SET status = 'dispatched', dispatched_at = now() WHERE id = %s",
        request_id,
    )
    for device in north, south:
        execute(
            database.admin_url,
            "INSERT INTO join_deliveries (request_id, device_id, status, published_at)"
            " VALUES (%s, %s, 'pending', now())",
            request_id,
            device,
        )
    expect(status).to_have_text(
        "“Stage rehearsal” in progress: 0 of 2 joined.", timeout=LIVE_TIMEOUT_MS
    )
    expect(cameras.locator(".count-targeted")).to_have_text("2 targeted")

    # One camera joins, the other cannot.
    answer = (
        "UPDATE join_deliveries SET status = %s, reason = %s, delivered_at = now(),"
        " answered_at = now() WHERE request_id = %s AND device_id = %s"
    )
    execute(database.admin_url, answer, "joined", None, request_id, north)
    execute(database.admin_url, answer, "failed", "camera busy", request_id, south)
    expect(status).to_have_text(
        "“Stage rehearsal” in progress: 1 of 2 joined, 1 failed.", timeout=LIVE_TIMEOUT_MS
    )
    expect(cameras.locator(".count-joined")).to_have_text("1 joined")
    expect(cameras.locator(".count-failed")).to_have_text("1 failed")
    answers = cameras.locator(".join-devices")
    expect(answers.locator(f'tr[data-device="{north}"]')).to_contain_text("joined")
    expect(answers.locator(f'tr[data-device="{south}"]')).to_contain_text("camera busy")


def test_refused_keys_and_roles_are_explained(
    gateway: Gateway, database: TestDatabase, tab: Tab
) -> None:
    register_fleet(gateway, database)
    page = tab.page
    page.goto(f"{gateway.url}/ui/")
    prompt = page.get_by_role("region", name="Sign in with an API key")

    # A wrong key: asked again, with the API's reason; nothing is kept.
    tab.sign_in("iot_" + "x" * 40)
    expect(prompt.get_by_role("status")).to_contain_text("The API refused this key")
    expect(page.get_by_label("API key", exact=True)).to_be_focused()
    assert page.evaluate("sessionStorage.getItem('iot.api-key')") is None

    # A viewer may look but not start a join: the form says why.
    tab.sign_in(gateway.keys["viewer"])
    expect(tab.group("cameras")).to_contain_text("2 devices · 1 online")
    dialog = tab.open_join_form("cameras")
    dialog.get_by_label("Session id").fill("s-1")
    dialog.get_by_label("Session name").fill("room-1")
    dialog.get_by_role("button", name="Send join request").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Your key's role may not start a join")
    expect(dialog.get_by_role("alert")).to_contain_text("needs operator")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    # An operator with invalid input: the page checks the JSON, the API the deadline (422).
    page.get_by_role("button", name="Change key").click()
    tab.sign_in(gateway.keys["operator"])
    dialog = tab.open_join_form("mics")
    dialog.get_by_label("Session id").fill("s-2")
    dialog.get_by_label("Session name").fill("room-2")
    dialog.get_by_label("Session metadata").fill("[1, 2]")
    dialog.get_by_role("button", name="Send join request").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "Session metadata must be a JSON object, such as {}."
    )
    dialog.get_by_label("Session metadata").fill("{}")
    dialog.get_by_label("Deadline").fill("3d")
    dialog.get_by_role("button", name="Send join request").click()
    expect(dialog.get_by_role("alert")).to_contain_text("The request is invalid: ")
    expect(dialog.get_by_role("alert")).to_contain_text("deadline")
    assert query(database.admin_url, "SELECT count(*) FROM join_requests") == [(0,)]

    # A join, then the key is revoked while the page follows it: the page asks for a key.
    dialog.get_by_label("Deadline").fill("60s")
    dialog.get_by_role("button", name="Send join request").click()
    expect(dialog).to_be_hidden()
    expect(tab.group("mics").locator(".join-summary")).to_contain_text("“room-2”")
    execute(
        database.admin_url,
        "UPDATE api_keys SET revoked_at = now() WHERE name = 'test-operator'",
    )
    expect(prompt).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(prompt.get_by_role("status")).to_contain_text("API key revoked")
    expect(page.locator("#fleet")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('iot.api-key')") is None
