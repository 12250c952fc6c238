"""The sales module: products, quotations and sales orders, with Odoo's names.

Salespeople see and change only their own orders; sales administrators every order of their
companies; the accountant reads every order of their companies and changes none.
"""

from __future__ import annotations

from bastion.apps.sales import demo
from bastion.apps.sales.line import SaleOrderLine
from bastion.apps.sales.order import SaleOrder
from bastion.apps.sales.product import Product
from bastion.core.module import Access, GroupDef, Module, Ref, Rule

USER = "base.group_user"
SALESMAN = "sales.group_sale_salesman"
MANAGER = "sales.group_sale_manager"
ACCOUNTANT = "sales.group_account_readonly"
EVERYTHING = [(1, "=", 1)]

_ALL = {"read": True, "write": True, "create": True, "unlink": True}
_READ = {"read": True}
_READ_ONLY_RULE = {"read": True, "write": False, "create": False, "unlink": False}

MODULE = Module(
    name="sales",
    depends=("contacts",),
    summary="Products, quotations and sales orders.",
    models=(Product, SaleOrder, SaleOrderLine),
    groups=(
        GroupDef(
            SALESMAN,
            "Sales / User: own documents only",
            implied=(USER,),
            comment="Sees and changes only the orders they are the salesperson of.",
        ),
        GroupDef(
            MANAGER,
            "Sales / Administrator",
            implied=(SALESMAN,),
            comment="Every order and product of their companies.",
        ),
        GroupDef(
            ACCOUNTANT,
            "Accounting / Read-only",
            implied=(USER,),
            comment="Reads every order of their companies; changes nothing.",
        ),
    ),
    access=(
        Access("product.product", USER, **_READ),
        Access("product.product", MANAGER, **_ALL),
        Access("product.product", ACCOUNTANT, **_READ),
        *(Access(m, SALESMAN, **_ALL) for m in ("sale.order", "sale.order.line")),
        *(Access(m, MANAGER, **_ALL) for m in ("sale.order", "sale.order.line")),
        *(Access(m, ACCOUNTANT, **_READ) for m in ("sale.order", "sale.order.line")),
    ),
    rules=(
        Rule(
            "sales.sale_order_personal_rule",
            "sale.order",
            [("user_id", "=", Ref("user.id"))],
            groups=(SALESMAN,),
        ),
        Rule(
            "sales.sale_order_line_personal_rule",
            "sale.order.line",
            [("order_id.user_id", "=", Ref("user.id"))],
            groups=(SALESMAN,),
        ),
        Rule("sales.sale_order_see_all", "sale.order", EVERYTHING, groups=(MANAGER,)),
        Rule("sales.sale_order_line_see_all", "sale.order.line", EVERYTHING, groups=(MANAGER,)),
        Rule(
            "sales.sale_order_accountant_read",
            "sale.order",
            EVERYTHING,
            groups=(ACCOUNTANT,),
            **_READ_ONLY_RULE,
        ),
        Rule(
            "sales.sale_order_line_accountant_read",
            "sale.order.line",
            EVERYTHING,
            groups=(ACCOUNTANT,),
            **_READ_ONLY_RULE,
        ),
    ),
    demo=demo.load,
)
