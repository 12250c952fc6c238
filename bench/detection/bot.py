"""A headless-browser bot: Debian's Chromium driven by Playwright through the real login page (our
script runs in it), as a stuffing tool that wants to look like a person would. Two variants: the
browser as it comes (its User-Agent says HeadlessChrome), and with an ordinary Chrome User-Agent.
The server's clock runs at real speed from the benchmark's time meanwhile, so the time to fill
the form is what the bot really took."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.detection.agents import COMMON_UA
from bench.detection.forms import form_with, page_forms
from bench.detection.outcomes import CODE_AFTER, CODE_BEFORE, ERROR, FAILED, MFA, SIGNED_IN
from playwright.async_api import async_playwright

CHROMIUM = Path("/usr/bin/chromium")
#: As tests/e2e/conftest.py: no sandbox (root in CI), no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VARIANTS = ("headless, default User-Agent", "headless, Chrome User-Agent")


@dataclass
class BotTry:
    variant: str
    ip: str
    login: str
    correct: bool
    outcome: str


def _outcome(status: int, url: str, html: str) -> str:
    if status == 429:
        return "refused"
    if status == 403:
        return "denied"
    if status == 401:
        return FAILED
    if "/web/login/mfa" in url:
        return MFA
    forms, _ = page_forms(html)
    code = form_with(forms, "code")
    if code is not None:
        return CODE_BEFORE if code.action.startswith("/web/login/verify") else CODE_AFTER
    if url.rstrip("/").endswith("/web"):
        return SIGNED_IN
    return ERROR


async def run_bot(
    base_url: str, credentials: list[tuple[str, str, bool]], addresses: list[str]
) -> list[BotTry]:
    """Each variant tries every credential, each from its own address."""
    if not CHROMIUM.is_file():
        print(f"{CHROMIUM} is missing: the headless-browser bot is skipped", flush=True)
        return []
    tries: list[BotTry] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            slots = iter(addresses)
            for variant in VARIANTS:
                for login, password, correct in credentials:
                    ip = next(slots)
                    options: dict[str, object] = {"extra_http_headers": {"X-Forwarded-For": ip}}
                    if "Chrome User-Agent" in variant:
                        options["user_agent"] = COMMON_UA
                    context = await browser.new_context(base_url=base_url, **options)  # type: ignore[arg-type]
                    try:
                        page = await context.new_page()
                        await page.goto("/web/login")
                        await page.fill("input[name=login]", login)
                        await page.fill("input[name=password]", password)
                        async with page.expect_navigation() as navigation:
                            await page.click("button[type=submit]")
                        response = await navigation.value
                        status = response.status if response is not None else 0
                        outcome = _outcome(status, page.url, await page.content())
                    finally:
                        await context.close()
                    tries.append(BotTry(variant, ip, login, correct, outcome))
        finally:
            await browser.close()
    return tries
