"""Partner tags: internal users read, create and change them; only administrators delete them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from bastion.bootstrap.users import add_user
from bastion.core.tenant import Tenant
from bastion.errors import AccessError

PASSWORD = "a long enough password"


def test_internal_user_tags_partners_but_cannot_delete_tags(
    make_tenant: Callable[..., Tenant],
) -> None:
    tenant = make_tenant(modules=("contacts",))
    uid = add_user(tenant, "clerk", PASSWORD)
    admin = add_user(tenant, "boss", PASSWORD, groups=["base.group_system"])
    with tenant.env(uid) as env:
        parent = env["res.partner.category"].create({"name": "Customer", "color": 3})
        vip = env["res.partner.category"].create({"name": "VIP", "parent_id": parent})
        env["res.partner.category"].write([vip], {"color": 7})
        pid = env["res.partner"].create({"name": "Acme", "category_id": [(6, 0, [vip])]})
        env["res.partner"].write([pid], {"category_id": [(4, parent)]})
        assert env["res.partner"].search([("category_id.name", "=", "VIP")]) == [pid]
        assert sorted(env["res.partner"].read([pid], ["category_id"])[0]["category_id"]) == [
            parent,
            vip,
        ]
        tag = env["res.partner.category"].read([vip], ["partner_ids", "parent_id", "color"])[0]
        assert (tag["partner_ids"], tag["parent_id"][0], tag["color"]) == ([pid], parent, 7)
        rel = env.registry.relations["res_partner_res_partner_category_rel"]
        assert {c.name for c in rel.columns} == {"partner_id", "category_id"}
        assert env.conn.execute(sa.select(sa.func.count()).select_from(rel)).scalar_one() == 2
    with pytest.raises(AccessError), tenant.env(uid) as env:
        env["res.partner.category"].unlink([vip])
    with tenant.env(admin) as env:
        env["res.partner.category"].unlink([vip])
        assert env["res.partner"].read([pid], ["category_id"])[0]["category_id"] == [parent]


def test_only_internal_users_see_tags(make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(modules=("contacts",))
    outsider = add_user(tenant, "portal", PASSWORD, groups=[])
    with pytest.raises(AccessError), tenant.env(outsider) as env:
        env["res.partner.category"].search([])
