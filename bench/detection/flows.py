"""The actors: a person's visit (with typos, e-mail codes, second factor and a later request of
the session), an attacker's attempts, a thief replaying a stolen session cookie.

Every request waits for its simulated time first (`Scheduler.wait`), so the server's clock says
when it happens; a form is submitted at least a second after its page was served, and the
browser report says how long it took by the server's clock.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import httpx
import pyotp
from bench.detection.agents import human_report
from bench.detection.attacks import Attempt, Replay
from bench.detection.browser import DEVICE_COOKIE, PRE_COOKIE, SESSION_COOKIE, Browser
from bench.detection.forms import form_with, page_forms
from bench.detection.outbox import Outbox
from bench.detection.outcomes import (
    CODE_AFTER,
    CODE_BEFORE,
    ERROR,
    FAILED,
    MFA,
    SIGNED_IN,
    AttackResult,
    Log,
    LoginTry,
    ReplayResult,
    VisitResult,
    classify,
)
from bench.detection.population import Person, Visit
from bench.detection.sched import Scheduler

#: How much earlier than planned a step may run to share a batch (seconds).
LEGIT_SLACK = 240.0
#: A person reading a code in their mailbox.
MAIL_SECONDS = (20.0, 90.0)


@dataclass
class Env:
    sched: Scheduler
    client: httpx.AsyncClient
    limit: asyncio.Semaphore
    outbox: Outbox
    rng: random.Random
    log: Log
    browsers: dict[str, Browser] = field(default_factory=dict)
    trusted: set[str] = field(default_factory=set)  # devices a second factor trusts
    stolen: dict[int, dict[str, str]] = field(default_factory=dict)  # visit id -> cookies
    victims: set[int] = field(default_factory=set)

    def browser(self, key: str, ua: str, ip: str) -> Browser:
        found = self.browsers.get(key)
        if found is None:
            found = Browser(self.client, self.limit, ua)
            self.browsers[key] = found
        found.ua, found.ip = ua, ip
        return found


def _typo(password: str, rng: random.Random) -> str:
    index = rng.randrange(len(password))
    return password[:index] + rng.choice("qwertyuiop") + password[index + 1 :]


async def _post_login(b: Browser, login: str, password: str, report: str) -> httpx.Response:
    return await b.request(
        "POST",
        "/web/login",
        {
            "csrf_token": b.csrf,
            "redirect": "",
            "login": login,
            "password": password,
            "bastion_signals_nonce": b.nonce,
            "bastion_signals": report,
        },
    )


# -- people -----------------------------------------------------------------------------------


async def visit_flow(env: Env, v: Visit, totp: dict[int, str]) -> None:
    person, device, rng = v.person, v.device, env.rng
    result = VisitResult(v.id, v.measured, v.where, v.new_device, replay_victim=v.id in env.victims)
    env.log.visits.append(result)
    ua = device.agent.user_agent(v.day)
    t = await env.sched.wait(v.at, slack=LEGIT_SLACK)
    b = env.browser(device.key, ua, v.ip)
    if device.clears_cookies:
        b.forget_device()
        env.trusted.discard(device.key)
    result.expected_mfa = person.totp and device.key not in env.trusted
    page = await b.request("GET", "/web/login")
    if page.status_code == 303:  # still signed in from earlier: nothing to do
        result.signed_in = True
        return
    t_page = t
    passwords = ([_typo(person.password, rng)] if v.typo else []) + [person.password]
    intended = True
    outcome = ERROR
    while passwords:
        password = passwords[0]
        fill = rng.uniform(1.5, 4.0) if device.autofill else rng.uniform(5.0, 15.0)
        t = await env.sched.wait(t_page + fill, after=t_page + 1.0, slack=LEGIT_SLACK)
        report = human_report(
            device.agent, ua, int((t - t_page) * 1000), rng, autofill=device.autofill
        )
        response = await _post_login(b, person.login, password, report)
        outcome = classify(response)
        env.log.tries.append(
            LoginTry(t, v.ip, person.login, True, password == person.password, outcome,
                     "legit", intended, v.id)
        )  # fmt: skip
        if outcome == FAILED and password != person.password:
            passwords.pop(0)
            t_page = t
            continue
        if outcome == CODE_BEFORE:
            result.challenges.append(CODE_BEFORE)
            t = await env.sched.wait(t + rng.uniform(*MAIL_SECONDS), slack=LEGIT_SLACK)
            if not await _answer_code(env, b, response, person, "/web/login/verify"):
                result.denied = "code-before not passed"
                return
            t_page = t
            intended = False  # the password again: only Bastion's challenge asked for it
            continue
        break
    if outcome == MFA:
        if not result.expected_mfa:
            result.challenges.append(MFA)
        t = await env.sched.wait(t + rng.uniform(6.0, 15.0), slack=LEGIT_SLACK)
        outcome = await _answer_mfa(b, totp.get(person.index, ""), t)
        if outcome == SIGNED_IN:
            env.trusted.add(device.key)
    elif outcome == CODE_AFTER:
        result.challenges.append(CODE_AFTER)
        t = await env.sched.wait(t + rng.uniform(*MAIL_SECONDS), slack=LEGIT_SLACK)
        outcome = (
            SIGNED_IN if await _answer_code(env, b, None, person, "/web/login/code") else ERROR
        )
    if outcome != SIGNED_IN:
        result.denied = outcome
        return
    home = await b.request("GET", "/web")
    if home.status_code != 200:
        result.denied = f"home {home.status_code}"
        return
    result.signed_in = True
    env.stolen[v.id] = dict(b.cookies)
    if v.measured:
        await _later_request(env, b, v, result, t)


async def _answer_code(
    env: Env, b: Browser, response: httpx.Response | None, person: Person, action: str
) -> bool:
    """Read the newest code sent to the person and type it into the page's code form."""
    if response is None or response.status_code in (302, 303):
        location = response.headers.get("location", action) if response is not None else action
        response = await b.request("GET", location)
    forms, _ = page_forms(response.text)
    form = form_with(forms, "code", action=action)
    code = env.outbox.code_for(person.email)
    if form is None or code is None:
        env.log.errors.append(f"no code form or code for {action} ({response.status_code})")
        return False
    answered = await b.request("POST", form.action, {**form.fields, "code": code})
    if answered.status_code in (302, 303):
        location = answered.headers.get("location", "")
        if action == "/web/login/verify":
            await b.request("GET", location or "/web/login")  # the form again, login filled in
        return not location.startswith(action)
    if action == "/web/login/verify" and answered.status_code == 200:
        forms, _ = page_forms(answered.text)
        return form_with(forms, "password", action="/web/login") is not None
    return False


async def _answer_mfa(b: Browser, secret: str, t: float) -> str:
    if not secret:
        return MFA
    await b.request("GET", "/web/login/mfa")  # the form carries the session's CSRF token
    for step in (0, 30):
        code = pyotp.TOTP(secret).at(int(t) + step)
        answered = await b.request(
            "POST", "/web/login/mfa", {"csrf_token": b.csrf, "code": code, "trust_device": "1"}
        )
        if answered.status_code in (302, 303):
            return SIGNED_IN
    return MFA


async def _later_request(env: Env, b: Browser, v: Visit, result: VisitResult, t: float) -> None:
    """One more request of the session a few minutes on (from another address of the carrier's
    NAT for a phone): session binding must leave the real person alone."""
    t = await env.sched.wait(t + env.rng.uniform(300, 1500), slack=LEGIT_SLACK)
    b.ip = v.later_ip or v.ip
    response = await b.request("GET", "/web")
    if response.status_code == 200:
        return
    location = response.headers.get("location", "")
    result.session_friction = "re-verify" if "/web/reverify" in location else "signed out"


# -- attackers --------------------------------------------------------------------------------


async def attack_flow(env: Env, attempts: list[Attempt]) -> None:
    """Attempts by one client, in order; the attacker does not read the answers."""
    rng = env.rng
    for a in attempts:
        t = await env.sched.wait(a.at, slack=a.slack)
        b = env.browser(a.client, a.ua, a.ip)
        t_page = t
        if a.fresh_page or not b.csrf:
            await b.request("GET", "/web/login")
            fill = rng.uniform(8.0, 25.0) if a.human else rng.uniform(0.2, 0.8)
            t = await env.sched.wait(t + fill, after=t + 0.1, slack=a.slack)
        report = ""
        if a.human and a.agent is not None:
            report = human_report(a.agent, a.ua, int((t - t_page) * 1000), rng, autofill=False)
        response = await _post_login(b, a.login, a.password, report)
        outcome = classify(response)
        env.log.tries.append(
            LoginTry(t, a.ip, a.login, a.exists, a.valid, outcome, a.scenario, True, a.id)
        )
        result = AttackResult(a.id, a.scenario, t, a.ip, a.login, a.valid, outcome)
        if outcome == SIGNED_IN:
            home = await b.request("GET", "/web")
            result.taken_over = home.status_code == 200
            b.cookies.pop(SESSION_COOKIE, None)
        env.log.attacks.append(result)


async def replay_flow(env: Env, r: Replay) -> None:
    """The thief's browser presents the victim's session cookie."""
    variant = r.variant
    result = ReplayResult(r.id, variant, "n/a")
    env.log.replays.append(result)
    t = await env.sched.wait(r.victim.at + 180.0 + r.delay, slack=5.0)
    stolen = env.stolen.get(r.victim.id)
    if not stolen or SESSION_COOKIE not in stolen:
        return
    thief = env.browser(f"thief-{r.id}", r.victim.device.agent.user_agent(r.victim.day), r.ip)
    if variant == "own device cookie":
        await thief.request("GET", "/web/login")  # the thief's browser has its own cookie
        t = await env.sched.wait(t + 2.0, after=t + 1.0, slack=5.0)
        cookies = {**thief.cookies, SESSION_COOKIE: stolen[SESSION_COOKIE]}
    elif variant == "no device cookie":
        cookies = {SESSION_COOKIE: stolen[SESSION_COOKIE]}
    else:
        keep = (SESSION_COOKIE, DEVICE_COOKIE, PRE_COOKIE)
        cookies = {k: v for k, v in stolen.items() if k in keep}
    result.first = _replayed(await thief.request("GET", "/web", cookies=cookies))
    t = await env.sched.wait(t + 5.0, after=t + 1.0, slack=5.0)
    result.second = _replayed(await thief.request("GET", "/web", cookies=cookies))


def _replayed(response: httpx.Response) -> str:
    if response.status_code == 200:
        return "allowed"
    location = response.headers.get("location", "")
    if "/web/reverify" in location:
        return "challenged"
    if location.startswith("/web/login"):
        return "revoked"
    return f"status {response.status_code}"
