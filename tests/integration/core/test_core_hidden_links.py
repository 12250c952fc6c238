"""Many2many commands act only on links the user can see; hidden links survive, unlinkable."""

from __future__ import annotations

import pytest

from bastion.bootstrap.users import add_user
from bastion.core.install import set_xmlid
from bastion.errors import AccessError


def _world(make_tenant):
    tenant = make_tenant(modules=("base", "contacts"))
    with tenant.system("test data") as env:
        other = env["res.company"].create({"name": "Other company"})
        set_xmlid(env, "test.other_company", "res.company", other)
        mine = env["res.partner"].create({"name": "Mine"})
        theirs = env["res.partner"].create({"name": "Theirs", "company_id": other})
        tag = env["res.partner.category"].create(
            {"name": "Shared tag", "partner_ids": [(6, 0, [mine, theirs])]}
        )
    uid = add_user(tenant, "clerk", "a long clerk password", groups=["base.group_user"])
    return tenant, uid, tag, mine, theirs


def _links(tenant, tag):
    with tenant.system("check") as env:
        return set(env["res.partner.category"].read([tag], ["partner_ids"])[0]["partner_ids"])


@pytest.mark.parametrize(
    "command", [[(6, 0, [])], [(5,)], [(3, 0)]], ids=["set", "clear", "unlink"]
)
def test_replacing_links_keeps_links_the_user_cannot_see(make_tenant, command) -> None:
    tenant, uid, tag, mine, theirs = _world(make_tenant)
    if command[0][0] == 3:
        command = [(3, mine), (3, theirs)]
    with tenant.env(uid) as env:
        assert env["res.partner.category"].read([tag], ["partner_ids"])[0]["partner_ids"] == [mine]
        env["res.partner.category"].write([tag], {"partner_ids": command})
    assert _links(tenant, tag) == {theirs}


def test_linking_a_record_the_user_cannot_see_is_denied(make_tenant) -> None:
    tenant, uid, tag, mine, theirs = _world(make_tenant)
    with tenant.env(uid) as env:
        env["res.partner.category"].write([tag], {"partner_ids": [(6, 0, [])]})
    with pytest.raises(AccessError), tenant.env(uid) as env:
        env["res.partner.category"].write([tag], {"partner_ids": [(4, theirs), (4, mine)]})
    assert _links(tenant, tag) == {theirs}
