"""List pages run a fixed number of queries however many rows they show (no N+1)."""

from __future__ import annotations

from datetime import date


def test_list_pages_do_not_query_per_row(client, as_role, make_org, make_contact, count_queries):
    lead = as_role("lead")
    client.get("/contacts/")  # warm caches (tag list, owners)

    def queries(url):
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return counter["n"]

    def add(i):
        o = make_org(f"Org {i}")
        c = make_contact("Many", f"Person{i}", organization_id=o.id, owner_id=lead.id)
        client.post(
            "/engagements/new",
            data={
                "kind": "call",
                "occurred_on": date.today().isoformat(),
                "summary": f"Call {i}",
                "contact_ids": [c.id],
                "organization": o.name,
                "follow_up_owner_id": "",
            },
        )

    add(0)
    few = {u: queries(u) for u in ("/contacts/", "/organizations/", "/engagements/", "/")}
    for i in range(1, 16):
        add(i)
    many = {u: queries(u) for u in few}
    assert many == few
