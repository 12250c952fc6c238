"""Browsers as the server sees them: User-Agent strings, stable attributes, and the report our
login page's script (`signals.js`) would write into the hidden field `bastion_signals`."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

#: family -> (User-Agent template with {v}, mobile, Chromium-based)
_FAMILIES = {
    "chrome-win": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{v}.0.0.0 Safari/537.36",
        False,
    ),
    "edge-win": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0",
        False,
    ),
    "firefox-win": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
        False,
    ),
    "chrome-mac": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/{v}.0.0.0 Safari/537.36",
        False,
    ),
    "safari-mac": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/{v}.0 Safari/605.1.15",
        False,
    ),
    "firefox-linux": (
        "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
        False,
    ),
    "safari-ios": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS {v}_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/{v}.0 Mobile/15E148 Safari/604.1",
        True,
    ),
    "chrome-android": (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{v}.0.0.0 Mobile Safari/537.36",
        True,
    ),
}
#: Version each family is at when the simulation starts (one update happens during it).
_VERSIONS = {
    "chrome-win": 141, "edge-win": 141, "chrome-mac": 141, "chrome-android": 141,
    "firefox-win": 143, "firefox-linux": 143, "safari-mac": 26, "safari-ios": 26,
}  # fmt: skip
_PLATFORMS = {
    "chrome-win": "Win32", "edge-win": "Win32", "firefox-win": "Win32",
    "chrome-mac": "MacIntel", "safari-mac": "MacIntel", "firefox-linux": "Linux x86_64",
    "safari-ios": "iPhone", "chrome-android": "Linux armv81",
}  # fmt: skip
_SCREENS = ("1920x1080", "1536x864", "1366x768", "2560x1440", "1440x900", "1680x1050")
_PHONE_SCREENS = ("390x844", "393x873", "412x915", "375x812")

#: What laptops and phones run, by weight.
DESKTOP_MIX = (("chrome-win", 45), ("edge-win", 20), ("firefox-win", 8), ("chrome-mac", 8),
               ("safari-mac", 12), ("firefox-linux", 7))  # fmt: skip
PHONE_MIX = (("safari-ios", 55), ("chrome-android", 45))
#: The single most common desktop browser: what an attacker claims to be.
COMMON_UA = _FAMILIES["chrome-win"][0].format(v=_VERSIONS["chrome-win"])
#: What HTTP tools send (credential-stuffing tools keep their library's default or a list).
SCRIPT_UA = "python-requests/2.32.3"


def pick(mix: tuple[tuple[str, int], ...], rng: random.Random) -> str:
    names, weights = zip(*mix, strict=True)
    return str(rng.choices(names, weights)[0])


@dataclass
class Agent:
    """A browser installation: its family, version (updated once, on `update_day`) and the
    stable attributes a fingerprint would read."""

    family: str
    version: int
    update_day: int | None
    screen: str
    languages: str
    time_zone: str
    cores: int

    @classmethod
    def new(cls, family: str, rng: random.Random, time_zone: str, languages: str) -> Agent:
        mobile = _FAMILIES[family][1]
        return cls(
            family=family,
            version=_VERSIONS[family],
            update_day=rng.randrange(3, 30) if rng.random() < 0.8 else None,
            screen=rng.choice(_PHONE_SCREENS if mobile else _SCREENS),
            languages=languages,
            time_zone=time_zone,
            cores=rng.choice((4, 8, 8, 12, 16)) if not mobile else 6,
        )

    @property
    def mobile(self) -> bool:
        return _FAMILIES[self.family][1]

    def user_agent(self, day: int) -> str:
        version = self.version + (
            1 if self.update_day is not None and day >= self.update_day else 0
        )
        return _FAMILIES[self.family][0].format(v=version)

    def stable(self) -> str:
        touch = 5 if self.mobile else 0
        return "|".join(
            (self.screen, "24", self.time_zone, self.languages, _PLATFORMS[self.family],
             str(self.cores), "8", str(touch))
        )  # fmt: skip


def human_report(agent: Agent, ua: str, fill_ms: int, rng: random.Random, *, autofill: bool) -> str:
    """What `signals.js` reports for a person: some pointer movement, keys unless a password
    manager filled the form, no automation flags."""
    pointer = rng.randint(1, 4) if autofill else rng.randint(8, 80)
    keys = 0 if autofill and rng.random() < 0.7 else rng.randint(12, 45)
    return json.dumps(
        {
            "v": 1,
            "webdriver": False,
            "pointer": pointer,
            "keys": keys,
            "fill_ms": fill_ms,
            "ua": ua,
            "ua_mismatch": False,
            "hints": [],
            "stable": agent.stable(),
        }
    )
