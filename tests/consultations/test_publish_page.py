"""Publishing the next version, as the team sees it: the line leads see where the Publish
button is for an administrator, and the publish page's preview of the new version."""

from __future__ import annotations

from datetime import date, timedelta

from crm.consultations import queries


def close(db, consultation):
    consultation.opens_on = date.today() - timedelta(days=30)
    consultation.closes_on = date.today() - timedelta(days=1)
    db.session.commit()


HINT_OPEN = (
    "An administrator publishes version 2.0 from the accepted drafts once the consultation is "
    "closed."
)
HINT_CLOSED = (
    "The consultation is closed: an administrator publishes version 2.0 from the accepted drafts."
)


def test_leads_see_who_publishes_where_the_publish_button_would_be(
    client, as_role, db, make_consultation
):
    consultation = make_consultation()
    url = f"/consultations/{consultation.id}"
    publish = f"/consultations/{consultation.id}/publish"
    as_role("lead")
    page = client.get(url).get_data(as_text=True)
    assert HINT_OPEN in page and publish not in page
    as_role("volunteer")  # does not manage the consultation: no line
    assert 'data-testid="publish-hint"' not in client.get(url).get_data(as_text=True)
    as_role("admin")
    page = client.get(url).get_data(as_text=True)
    assert (
        "You can publish version 2.0 from the accepted drafts once the consultation has closed"
        in page
    )
    assert publish not in page

    close(db, consultation)
    as_role("lead")
    page = client.get(url).get_data(as_text=True)
    assert HINT_CLOSED in page and publish not in page
    assert client.get(publish).status_code == 403  # publishing stays with administrators
    as_role("admin")
    page = client.get(url).get_data(as_text=True)
    assert publish in page and 'data-testid="publish-hint"' not in page
    form = client.get(publish).get_data(as_text=True)
    assert 'name="new_version"' in form and 'value="2.0"' in form  # the suggestion, changeable


def test_the_suggested_version_skips_numbers_already_used(
    db, make_consultation, make_user, current
):
    from crm.standards import operations as standard_ops

    consultation = make_consultation()
    assert queries.suggested_version(consultation) == "2.0"
    standard_ops.supersede(make_user("admin"), current, "2.0", "Two, drafted by hand")
    db.session.commit()
    assert queries.suggested_version(consultation) == "3.0"
