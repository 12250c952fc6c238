"""Demo contacts: tags, customer companies with their people, and individuals.

Spread over the two demo companies, some shared by both (no company). Deterministic.
"""

from __future__ import annotations

import random
from typing import Any

from bastion.core.environment import Environment
from bastion.core.install import ref
from bastion.core.module import DemoOptions

SEED = 7_301
COMPANIES_PER_SCALE = 60
PARTNERS_PER_SCALE = 300

TAGS: tuple[tuple[str, int, str | None], ...] = (
    ("Customer", 1, None),
    ("Prospect", 2, None),
    ("Supplier", 3, None),
    ("Reseller", 4, None),
    ("Retail", 5, "Customer"),
    ("Wholesale", 6, "Customer"),
    ("VIP", 7, "Customer"),
    ("Services", 8, "Supplier"),
    ("Manufacturing", 9, "Supplier"),
)
PREFIXES = (
    "Northwind",
    "Bluebird",
    "Redwood",
    "Silverline",
    "Ironbridge",
    "Greenfield",
    "Oakridge",
    "Brightwater",
    "Stonegate",
    "Highland",
    "Riverside",
    "Suncrest",
    "Westbrook",
    "Clearview",
    "Maplewood",
    "Harbour",
    "Summit",
    "Pinecone",
    "Lakeside",
    "Goldleaf",
)
SUFFIXES = (
    "Traders",
    "Logistics",
    "Engineering",
    "Foods",
    "Consulting",
    "Systems",
    "Retail",
    "Textiles",
    "Media",
    "Labs",
)
FORMS = {"GB": "Ltd", "DE": "GmbH", "FR": "SARL", "NL": "B.V."}
FIRST = (
    "Alice",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Grace",
    "Henry",
    "Ida",
    "Jonas",
    "Katrin",
    "Liam",
    "Mia",
    "Noah",
    "Olivia",
    "Paul",
    "Quinn",
    "Rosa",
    "Simon",
    "Tara",
    "Uwe",
    "Vera",
    "William",
    "Yara",
    "Zoe",
)
LAST = (
    "Smith",
    "Müller",
    "Jones",
    "Schneider",
    "Taylor",
    "Fischer",
    "Brown",
    "Weber",
    "Wilson",
    "Wagner",
    "Evans",
    "Becker",
    "Walker",
    "Hoffmann",
    "Wright",
    "Koch",
    "Green",
    "Richter",
    "Hall",
    "Klein",
)
CITIES = {
    "GB": (("London", "EC1A 1BB"), ("Manchester", "M1 1AE"), ("Leeds", "LS1 4DY")),
    "DE": (("Berlin", "10115"), ("Hamburg", "20095"), ("München", "80331")),
    "FR": (("Paris", "75001"), ("Lyon", "69001")),
    "NL": (("Amsterdam", "1012 AB"), ("Utrecht", "3511 AA")),
}
STREETS = (
    "High Street",
    "Station Road",
    "Hauptstraße",
    "Rue de la Paix",
    "Kerkstraat",
    "Market Square",
    "Bahnhofstraße",
    "Church Lane",
)
JOBS = (
    "Purchasing Manager",
    "CEO",
    "Accountant",
    "Sales Director",
    "Office Manager",
    "Project Lead",
    "Buyer",
)


def _tags(env: Environment) -> dict[str, int]:
    ids: dict[str, int] = {}
    for parents in (True, False):
        batch = [t for t in TAGS if (t[2] is None) == parents]
        created = env["res.partner.category"].create(
            [
                {"name": name, "color": color, "parent_id": ids[parent] if parent else False}
                for name, color, parent in batch
            ]
        )
        ids.update((name, rid) for (name, _, _), rid in zip(batch, created, strict=True))
    return ids


def _address(rng: random.Random, country: str) -> dict[str, Any]:
    city, zip_code = rng.choice(CITIES[country])
    return {
        "street": f"{rng.randint(1, 250)} {rng.choice(STREETS)}",
        "city": city,
        "zip": zip_code,
        "country_code": country,
    }


def _person(rng: random.Random, number: int, domain: str) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    login = f"{first}.{last}".lower().replace("ü", "ue")
    return {
        "name": f"{first} {last}",
        "email": f"{login}{number}@{domain}",
        "phone": f"+44 7700 {900000 + number:06d}",
        "ref": f"DEMO-P{number:04d}",
    }


def load(env: Environment, options: DemoOptions) -> None:
    rng = random.Random(SEED)  # noqa: S311 - demo data, not secrets
    tags = _tags(env)
    company_ids = [ref(env, "base.main_company"), ref(env, "base.demo_company_2")]
    home = {company_ids[0]: ("GB", "FR"), company_ids[1]: ("DE", "NL")}

    def owner() -> int | bool:
        pick = rng.random()
        return company_ids[0] if pick < 0.45 else company_ids[1] if pick < 0.8 else False

    n_companies = COMPANIES_PER_SCALE * options.scale
    names = [f"{p} {s}" for p in PREFIXES for s in SUFFIXES]
    rng.shuffle(names)
    companies: list[dict[str, Any]] = []
    for i in range(n_companies):
        company = owner()
        country = rng.choice(home[company] if company else ("GB", "DE", "FR", "NL"))
        base_name = names[i % len(names)] + (f" {i // len(names) + 1}" if i >= len(names) else "")
        slug = base_name.lower().replace(" ", "-")
        chosen = rng.sample(sorted(tags), rng.randint(0, 3))
        companies.append(
            {
                "name": f"{base_name} {FORMS[country]}",
                "is_company": True,
                "company_id": company,
                "email": f"contact@{slug}.example.com",
                "website": f"https://{slug}.example.com",
                "phone": f"+44 20 7946 {i:04d}",
                "vat": f"{country}{rng.randint(100_000_000, 999_999_999)}",
                "ref": f"DEMO-C{i:04d}",
                "category_id": [(6, 0, sorted(tags[t] for t in chosen))],
                **_address(rng, country),
            }
        )
    company_partners = env["res.partner"].create(companies)
    people: list[dict[str, Any]] = []
    for parent, vals in zip(company_partners, companies, strict=True):
        domain = str(vals["email"]).split("@")[1]
        for _ in range(rng.randint(1, 4)):
            person = _person(rng, len(people), domain)
            person.update(
                parent_id=parent, company_id=vals["company_id"], function=rng.choice(JOBS)
            )
            people.append(person)
    while len(people) + n_companies < PARTNERS_PER_SCALE * options.scale:
        company = owner()
        person = _person(rng, len(people), "mail.example.org")
        country = rng.choice(home[company] if company else ("GB", "DE"))
        person.update(company_id=company, **_address(rng, country))
        if rng.random() < 0.3:
            person["category_id"] = [(6, 0, [tags[rng.choice(("Customer", "Prospect"))]])]
        people.append(person)
    env["res.partner"].create(people)
