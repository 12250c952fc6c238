"""Demo sales: the sales roles, about forty products and four hundred orders with their lines.

Orders are spread over the salespeople of both demo companies, in every state. Deterministic.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from bastion.apps.base.demo import demo_user_id
from bastion.core.environment import Environment
from bastion.core.install import ref
from bastion.core.module import DemoOptions

SEED = 4_242
ORDERS_PER_SCALE = 400
ROLES = {
    "sales": "sales.group_sale_salesman",
    "salesmanager": "sales.group_sale_manager",
    "accountant": "sales.group_account_readonly",
    "sales2": "sales.group_sale_salesman",
    "salesmanager2": "sales.group_sale_manager",
    "accountant2": "sales.group_account_readonly",
}
#: salespeople of each company (xmlid) with their share of the company's orders
SELLERS = {
    "base.main_company": (("sales", 0.65), ("salesmanager", 0.35)),
    "base.demo_company_2": (("sales2", 0.6), ("salesmanager2", 0.4)),
}
TAX = {"base.main_company": 20.0, "base.demo_company_2": 19.0}
#: (code, name, price, type); the last four of each list belong to one company only
PRODUCTS: tuple[tuple[str, str, str, str], ...] = (
    ("FURN-0001", "Office Chair", "149.00", "consu"),
    ("FURN-0002", "Standing Desk", "549.00", "consu"),
    ("FURN-0003", "Drawer Unit", "129.50", "consu"),
    ("FURN-0004", "Meeting Table", "899.00", "consu"),
    ("FURN-0005", "Bookshelf", "89.90", "consu"),
    ("FURN-0006", "Whiteboard", "74.99", "consu"),
    ("FURN-0007", "Desk Lamp", "34.95", "consu"),
    ("FURN-0008", "Acoustic Panel", "119.00", "consu"),
    ("COMP-0001", "Laptop 14 inch", "1099.00", "consu"),
    ("COMP-0002", "Laptop 16 inch", "1499.00", "consu"),
    ("COMP-0003", "27 inch Monitor", "289.00", "consu"),
    ("COMP-0004", "Docking Station", "179.00", "consu"),
    ("COMP-0005", "Wireless Keyboard", "49.90", "consu"),
    ("COMP-0006", "Wireless Mouse", "24.90", "consu"),
    ("COMP-0007", "Headset", "79.00", "consu"),
    ("COMP-0008", "Webcam", "69.00", "consu"),
    ("COMP-0009", "USB-C Cable", "9.99", "consu"),
    ("COMP-0010", "Laser Printer", "329.00", "consu"),
    ("COMP-0011", "Network Switch", "239.00", "consu"),
    ("COMP-0012", "Wi-Fi Access Point", "159.00", "consu"),
    ("SUPP-0001", "Printer Paper (box)", "27.50", "consu"),
    ("SUPP-0002", "Toner Cartridge", "89.00", "consu"),
    ("SUPP-0003", "Notebooks (pack of 10)", "19.90", "consu"),
    ("SUPP-0004", "Coffee Beans 1 kg", "22.00", "consu"),
    ("SERV-0001", "On-site Installation (hour)", "95.00", "service"),
    ("SERV-0002", "Remote Support (hour)", "75.00", "service"),
    ("SERV-0003", "Training Day", "890.00", "service"),
    ("SERV-0004", "Annual Maintenance Plan", "1200.00", "service"),
    ("SERV-0005", "Security Audit", "2400.00", "service"),
    ("SERV-0006", "Consulting (day)", "1100.00", "service"),
    ("SERV-0007", "Data Migration", "1850.00", "service"),
    ("SERV-0008", "Extended Warranty (year)", "149.00", "service"),
    ("LTD-0001", "UK Plug Adapter", "6.50", "consu"),
    ("LTD-0002", "London Office Fit-out (day)", "980.00", "service"),
    ("LTD-0003", "UK Next-day Delivery", "15.00", "service"),
    ("LTD-0004", "Royal Mail Franking", "45.00", "service"),
    ("GMBH-0001", "EU Plug Adapter", "5.90", "consu"),
    ("GMBH-0002", "Berlin Office Fit-out (day)", "950.00", "service"),
    ("GMBH-0003", "DHL Express Versand", "14.00", "service"),
    ("GMBH-0004", "Ergonomie-Beratung", "390.00", "service"),
)
STATE_NAMES = ("draft", "sent", "sale", "cancel")
STATE_WEIGHTS = (0.25, 0.15, 0.5, 0.1)


def _grant_roles(env: Environment) -> None:
    for login, group in ROLES.items():
        env["res.users"].write([demo_user_id(env, login)], {"groups_id": [(4, ref(env, group))]})


Sellable = dict[int, list[tuple[int, Decimal]]]


def _products(env: Environment, companies: dict[str, int]) -> Sellable:
    """Create the products; return, per company, the (id, price) of those it may sell."""
    owners: list[int | bool] = []
    for code, *_ in PRODUCTS:
        prefix = code.split("-")[0]
        owners.append(
            companies["base.main_company"]
            if prefix == "LTD"
            else companies["base.demo_company_2"]
            if prefix == "GMBH"
            else False
        )
    ids = env["product.product"].create(
        [
            {
                "default_code": code,
                "name": name,
                "list_price": Decimal(price),
                "type": kind,
                "company_id": company,
                "description_sale": f"{name}, delivered by Bastion Demo.",
            }
            for (code, name, price, kind), company in zip(PRODUCTS, owners, strict=True)
        ]
    )
    sellable: Sellable = {c: [] for c in companies.values()}
    for pid, owner, (_, _, price, _) in zip(ids, owners, PRODUCTS, strict=True):
        for company in sellable:
            if owner in (False, company):
                sellable[company].append((pid, Decimal(price)))
    return sellable


def _line(rng: random.Random, product: tuple[int, Decimal], tax: float) -> dict[str, Any]:
    pid, price = product
    most = 3 if price > 500 else 12 if price > 100 else 40
    vals: dict[str, Any] = {
        "product_id": pid,
        "product_uom_qty": float(rng.randint(1, most)),
        "discount": rng.choice((0.0, 0.0, 0.0, 0.0, 5.0, 10.0, 12.5)),
        "tax_percent": tax,
    }
    if rng.random() < 0.1:
        vals["price_unit"] = (price * Decimal(rng.randint(85, 100)) / 100).quantize(Decimal("0.01"))
    return vals


def _customer_ref(rng: random.Random) -> str | bool:
    return f"PO-{rng.randint(10_000, 99_999)}" if rng.random() < 0.4 else False


def load(env: Environment, options: DemoOptions) -> None:
    rng = random.Random(SEED)  # noqa: S311 - demo data, not secrets
    _grant_roles(env)
    companies = {xmlid: ref(env, xmlid) for xmlid in SELLERS}
    sellable = _products(env, companies)
    now = env.now().replace(tzinfo=None, microsecond=0)
    users = {login: demo_user_id(env, login) for pairs in SELLERS.values() for login, _ in pairs}
    customers = {
        company: env["res.partner"].search(
            [
                ("ref", "!=", False),
                ("parent_id", "=", False),
                ("company_id", "in", [company, False]),
            ]
        )
        for company in companies.values()
    }
    orders: list[dict[str, Any]] = []
    lines: list[list[dict[str, Any]]] = []
    for i in range(ORDERS_PER_SCALE * options.scale):
        xmlid = "base.main_company" if i % 20 < 11 else "base.demo_company_2"
        company = companies[xmlid]
        logins = [login for login, _ in SELLERS[xmlid]]
        weights = [share for _, share in SELLERS[xmlid]]
        orders.append(
            {
                "partner_id": rng.choice(customers[company]),
                "user_id": users[rng.choices(logins, weights)[0]],
                "company_id": company,
                "date_order": now - dt.timedelta(minutes=rng.randint(0, 365 * 24 * 60)),
                "state": rng.choices(STATE_NAMES, STATE_WEIGHTS)[0],
                "client_order_ref": _customer_ref(rng),
            }
        )
        products = rng.sample(sellable[company], rng.randint(2, 11))
        lines.append([_line(rng, p, TAX[xmlid]) for p in products])
    order_ids = env["sale.order"].create(orders)
    env["sale.order.line"].create(
        [
            {**vals, "order_id": oid, "sequence": 10 * (n + 1)}
            for oid, order_lines in zip(order_ids, lines, strict=True)
            for n, vals in enumerate(order_lines)
        ]
    )
