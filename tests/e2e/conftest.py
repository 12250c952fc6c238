"""Browser tests: Debian's Chromium driven by Playwright against a real `bastion serve`.

The browser visits http://localhost:<port>, not 127.0.0.1: WebAuthn refuses an IP address as
relying-party id ("This is an invalid domain"), and localhost is a secure context. The server
listens on 127.0.0.1 only; Chromium resolves localhost to loopback itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    CDPSession,
    ConsoleMessage,
    Locator,
    Page,
    sync_playwright,
)

from support.chromium import CHROMIUM_ARGS
from support.live_server import PASSWORD, copy_data_dir, init_tenant, serve
from support.postgres import CI

CHROMIUM = Path("/usr/bin/chromium")
#: What a person's Chromium looks like: no `navigator.webdriver`, a desktop user agent without
#: "HeadlessChrome". Otherwise the sign-in's bot detection (rightly) challenges every test.
#: tests/e2e/test_e2e_login_signals.py uses the plain automated browser on purpose.
HUMAN_ARGS = ["--disable-blink-features=AutomationControlled"]
#: The major version must be the browser's own: the login page compares it with client hints.
DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{major}.0.0.0 Safari/537.36"
)
#: Milliseconds between key presses when a test types like a person.
TYPING_DELAY_MS = 15
TENANT = "demo"
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 20_000

LOGOUT_FORM = 'form[action="/web/session/logout"]'
LOGIN_FORM = "form:has(input[name=password])"
SUBMIT = "button:not([type=button]):not([type=reset]), input[type=submit]"
#: Where every page shows the user's name (base.html): only once fully signed in.
SIGNED_IN = '[data-testid="user-name"]'
VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def require_chromium() -> str:
    """Chromium's path; skip when it is missing, except under CI where that is a failure."""
    if CHROMIUM.is_file():
        return str(CHROMIUM)
    if CI:
        pytest.fail(f"{CHROMIUM} is required under CI=true (.ci/run installs it)")
    pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")


@pytest.fixture(scope="module")
def chromium_args() -> list[str]:
    """Launch flags of the module's browser; a module overrides this to look automated."""
    return CHROMIUM_ARGS + HUMAN_ARGS


@pytest.fixture(scope="module")
def chromium(chromium_args: list[str]) -> Iterator[Browser]:
    """One headless Chromium per test module; each test gets fresh contexts.

    Not per session: while Playwright's sync API is alive its event loop counts as running in
    this thread, so tests of other modules that call `asyncio.run()` (same xdist worker) would
    fail. Module fixtures end before pytest moves on to another module.
    """
    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=chromium_args
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`bastion init demo --demo` once per test process; tests serve copies of it."""
    require_chromium()  # no need for a demo tenant without a browser
    data_dir = tmp_path_factory.mktemp("e2e-demo") / "var"
    init_tenant(data_dir, TENANT, demo=True)
    return data_dir


SERVER_LOG = pytest.StashKey[Path]()


@pytest.fixture
def live_server(demo_data: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A server of a private copy of the demo data; yields the browser's base URL."""
    data_dir = copy_data_dir(demo_data, tmp_path / "var")
    with serve(data_dir) as server:
        request.node.stash[SERVER_LOG] = server.log_path
        yield f"http://localhost:{server.port}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report shows what its server logged (tracebacks of a 500, say)."""
    report: pytest.TestReport = yield  # type: ignore[misc]
    log = item.stash.get(SERVER_LOG, None)
    if report.failed and log is not None and log.is_file():
        report.sections.append(("bastion serve output", log.read_text("utf-8", errors="replace")))
    return report  # type: ignore[return-value]


@dataclass
class Watch:
    """Uncaught script errors and CSP violations seen in a context's pages."""

    problems: list[str]

    def page(self, page: Page) -> None:
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        page.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.problems.append(f"CSP violation: {message.text}")


NewContext = Callable[..., BrowserContext]


@pytest.fixture(scope="module")
def user_agent(chromium: Browser) -> str | None:
    """The user agent of new contexts; None keeps Chromium's own (HeadlessChrome)."""
    return DESKTOP_CHROME.format(major=chromium.version.split(".")[0])


@pytest.fixture
def new_context(
    chromium: Browser, live_server: str, user_agent: str | None
) -> Iterator[NewContext]:
    """`new_context(**options)`: another browser context (own cookies) on the live server."""
    contexts: list[BrowserContext] = []
    watch = Watch([])

    def make(**options: object) -> BrowserContext:
        if user_agent is not None:
            options.setdefault("user_agent", user_agent)
        context = chromium.new_context(base_url=live_server, **options)  # type: ignore[arg-type]
        context.on("page", watch.page)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    if watch.problems:
        pytest.fail("the pages reported problems:\n" + "\n".join(watch.problems))


@pytest.fixture
def context(new_context: NewContext) -> BrowserContext:
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@dataclass(frozen=True)
class Site:
    """What a person does on the site, by the URLs, field names and test ids of the spec."""

    url: str
    password: str = PASSWORD

    def path(self, page: Page) -> str:
        return urlsplit(page.url).path

    def submit(self, page: Page, form: str | Locator) -> None:
        """Submit the (first) form with its submit button; wait for the next page."""
        located = page.locator(form) if isinstance(form, str) else form
        with page.expect_navigation(wait_until="load"):
            located.first.locator(SUBMIT).first.click()

    def login(
        self, page: Page, login: str, password: str | None = None, *, remember: bool = False
    ) -> None:
        """Sign in with a password; ends on home, on the MFA page, or back on the login page."""
        page.goto("/web/login")
        form = page.locator(LOGIN_FORM)
        self.type_into(form.locator("input[name=login]"), login)
        self.type_into(
            form.locator("input[name=password]"), self.password if password is None else password
        )
        if remember:
            form.locator("input[name=remember]").check()
        self.submit(page, form)

    @staticmethod
    def type_into(field: Locator, text: str) -> None:
        """Click the field and type, key by key, as a person does (the bot check listens)."""
        field.click()
        field.press_sequentially(text, delay=TYPING_DELAY_MS)

    def is_logged_in(self, page: Page) -> bool:
        return page.locator(SIGNED_IN).count() > 0

    def assert_logged_in(self, page: Page) -> None:
        page.goto("/web")
        assert self.path(page) == "/web", f"home sent this browser to {page.url}"
        assert self.is_logged_in(page)

    def assert_logged_out(self, page: Page) -> None:
        page.goto("/web")
        assert self.path(page) == "/web/login", f"home did not ask to sign in: {page.url}"
        assert not self.is_logged_in(page)
        assert page.locator(LOGIN_FORM).count() == 1

    def logout(self, page: Page) -> None:
        """Sign out from home; ends on the login page."""
        page.goto("/web")
        self.submit(page, LOGOUT_FORM)
        assert self.path(page) == "/web/login", page.url
        assert not self.is_logged_in(page)

    def reauth_if_asked(self, page: Page) -> bool:
        """Confirm the password if a sensitive action asked for it; True if it did."""
        if self.path(page) != "/web/reauth":
            return False
        page.locator("input[name=password]").fill(self.password)
        self.submit(page, '[data-testid="reauth-form"]')
        return True

    def error_text(self, page: Page) -> str:
        """The page's error message (base.html), waiting for it to show."""
        error = page.get_by_test_id("error")
        error.wait_for(state="visible")
        return error.inner_text().strip()

    def add_authenticator(self, context: BrowserContext, page: Page) -> Authenticator:
        """A virtual platform authenticator (with user verification) attached to `page`."""
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        answer = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})
        return Authenticator(cdp, str(answer["authenticatorId"]))

    @staticmethod
    def totp_code(secret: str, *, steps_ahead: int = 0) -> str:
        """The TOTP code of `secret`, `steps_ahead` 30-second steps from now."""
        return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


@dataclass(frozen=True)
class Authenticator:
    """Chromium's virtual authenticator, through the DevTools protocol."""

    cdp: CDPSession
    authenticator_id: str

    def credentials(self) -> list[dict[str, object]]:
        request = {"authenticatorId": self.authenticator_id}
        answer = self.cdp.send("WebAuthn.getCredentials", request)
        return list(answer["credentials"])


@pytest.fixture
def site(live_server: str) -> Site:
    return Site(live_server)
