"""The contacts module: partner tags and the contact fields of Odoo's Contacts app."""

from __future__ import annotations

from bastion.apps.contacts import demo
from bastion.apps.contacts.models import Partner, PartnerCategory
from bastion.core.module import Access, Module

USER = "base.group_user"
SYSTEM = "base.group_system"

MODULE = Module(
    name="contacts",
    depends=("base",),
    summary="Contacts with tags.",
    models=(PartnerCategory, Partner),
    access=(
        Access("res.partner.category", USER, read=True, write=True, create=True),
        Access("res.partner.category", SYSTEM, read=True, write=True, create=True, unlink=True),
    ),
    demo=demo.load,
)
