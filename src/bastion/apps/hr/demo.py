"""Demo employees: one per demo user, plus colleagues without an account. Deterministic."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from bastion.apps.base.demo import DEMO_USERS, demo_user_id
from bastion.core.environment import Environment
from bastion.core.install import ref
from bastion.core.module import DemoOptions

SEED = 1_905
COLLEAGUES_PER_COMPANY = 20
OFFICERS = ("hr", "hr2")
#: login -> (job title, department, manager login or None for the head of the company)
JOBS: dict[str, tuple[str, str, str | None]] = {
    "sales": ("Sales Representative", "Sales", "salesmanager"),
    "salesmanager": ("Sales Manager", "Sales", None),
    "hr": ("HR Officer", "Human Resources", None),
    "accountant": ("Accountant", "Finance", None),
    "employee": ("Warehouse Clerk", "Operations", None),
}
COMPANIES = {
    "base.main_company": ("Olivia Hartmann", "GB", "demo-ltd.example.com", "GB"),
    "base.demo_company_2": ("Friedrich Lange", "DE", "demo-gmbh.example.com", "DE"),
}
COLLEAGUE_JOBS = (
    ("Developer", "Research & Development"),
    ("Support Engineer", "Operations"),
    ("Logistics Coordinator", "Operations"),
    ("Marketing Specialist", "Marketing"),
    ("Bookkeeper", "Finance"),
    ("Account Executive", "Sales"),
)
FIRST = (
    "Amira",
    "Bruno",
    "Chloé",
    "Dmitri",
    "Elif",
    "Finn",
    "Greta",
    "Hamza",
    "Ines",
    "Jakob",
    "Lena",
    "Mateo",
    "Nora",
    "Oskar",
    "Priya",
    "Rafael",
    "Sofia",
    "Theo",
    "Uma",
    "Viktor",
)
LAST = (
    "Andersen",
    "Bauer",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fuchs",
    "García",
    "Hughes",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "O'Brien",
    "Petrov",
)


def _private(rng: random.Random, name: str, country: str, salary: int) -> dict[str, Any]:
    slug = name.lower().replace(" ", ".").replace("'", "")
    return {
        "salary": Decimal(salary),
        "bank_account": f"{country}{rng.randint(10, 99)} DEMO {rng.randint(0, 10**10 - 1):010d}",
        "identification_id": f"ID-{rng.randint(10**7, 10**8 - 1)}",
        "private_email": f"{slug}@private.example.org",
        "private_phone": f"+{44 if country == 'GB' else 49} 7{rng.randint(10**8, 10**9 - 1)}",
        "birthday": dt.date(1962, 1, 1) + dt.timedelta(days=rng.randint(0, 38 * 365)),
    }


def _company_staff(env: Environment, rng: random.Random, xmlid: str, suffix: str) -> None:
    company = ref(env, xmlid)
    head_name, country, domain, _ = COMPANIES[xmlid]
    head = env["hr.employee"].create(
        {
            "name": head_name,
            "company_id": company,
            "job_title": "Managing Director",
            "department": "Management",
            "work_email": f"director@{domain}",
            **_private(rng, head_name, country, 9500),
        }
    )
    names = {login: name for login, name, _ in DEMO_USERS}
    managers: dict[str, int] = {}
    for login, (job, department, boss) in sorted(JOBS.items(), key=lambda j: j[1][2] is not None):
        user = login + suffix
        vals = {
            "name": names[user],
            "user_id": demo_user_id(env, user),
            "company_id": company,
            "job_title": job,
            "department": department,
            "work_email": f"{user}@{domain}",
            "parent_id": managers[boss] if boss else head,
            **_private(rng, names[user], country, rng.randint(2800, 6500)),
        }
        managers[login] = env["hr.employee"].create(vals)
    colleagues = []
    for i in range(COLLEAGUES_PER_COMPANY):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        job, department = rng.choice(COLLEAGUE_JOBS)
        colleagues.append(
            {
                "name": name,
                "company_id": company,
                "job_title": job,
                "department": department,
                "work_email": f"staff{i:02d}@{domain}",
                "parent_id": managers["salesmanager"] if department == "Sales" else head,
                "active": rng.random() > 0.1,
                **_private(rng, name, country, rng.randint(2400, 5200)),
            }
        )
    env["hr.employee"].create(colleagues)


def load(env: Environment, options: DemoOptions) -> None:
    rng = random.Random(SEED)  # noqa: S311 - demo data, not secrets
    officer = ref(env, "hr.group_hr_user")
    for login in OFFICERS:
        env["res.users"].write([demo_user_id(env, login)], {"groups_id": [(4, officer)]})
    _company_staff(env, rng, "base.main_company", "")
    _company_staff(env, rng, "base.demo_company_2", "2")
