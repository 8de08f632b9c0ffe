"""Two-factor sign-in with an authenticator app: enrolling, codes that work once, recovery
codes, the code step of a sign-in (throttled, expiring), trusted browsers, roles that require
it, and an admin's reset."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
import sqlalchemy as sa

from crm.audit.models import AuditEntry
from crm.auth import operations, two_factor
from crm.auth.models import LoginAttempt, SecurityEvent, User
from crm.auth.two_factor_models import RecoveryCode, TwoFactor
from crm.auth.two_factor_views import PENDING, TRUST_COOKIE
from crm.core.errors import OperationError

PASSWORD = "correct horse battery"
HERE = "10.0.0.1"


def code_at(secret: str, steps_from_now: int = 0) -> str:
    """The app's code for a 30-second step near now (the server accepts one step either side)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_from_now)


def app_row(db, user) -> TwoFactor | None:
    return db.session.scalar(sa.select(TwoFactor).where(TwoFactor.user_id == user.id))


def forget_used_step(db, user) -> None:
    """As if the next code were used a while later (the replay guard refuses a step twice)."""
    db.session.execute(
        sa.update(TwoFactor).where(TwoFactor.user_id == user.id).values(last_used_step=None)
    )
    db.session.commit()


def enrol(db, user) -> tuple[str, list[str]]:
    """`user` with an authenticator app set up: its secret and the recovery codes."""
    row = two_factor.begin_enrolment(user)
    codes = two_factor.confirm_enrolment(user, code_at(row.secret, -1))
    db.session.commit()
    forget_used_step(db, user)
    return row.secret, codes


def kinds(db, user) -> list[str]:
    stmt = sa.select(SecurityEvent.kind).where(SecurityEvent.user_id == user.id)
    return [k.value for k in db.session.scalars(stmt.order_by(SecurityEvent.id))]


def password_step(client, email, *, address=HERE, remember=False, next_url=None):
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data=data, environ_base={"REMOTE_ADDR": address})


def code_step(client, code, *, address=HERE, trust=False):
    data = {"code": code}
    if trust:
        data["trust"] = "y"
    return client.post("/login/code", data=data, environ_base={"REMOTE_ADDR": address})


def shown_codes(response) -> list[str]:
    """The recovery codes a page shows, in their block."""
    block = re.search(r'id="recovery-codes"[^>]*>([^<]*)<', response.get_data(as_text=True))
    assert block, "no recovery codes shown"
    return block.group(1).split()


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


# --- operations -------------------------------------------------------------------------------


def test_enrolling_takes_a_first_right_code_and_gives_ten_recovery_codes(ctx, db, make_user):
    user = make_user("volunteer")
    row = two_factor.begin_enrolment(user)
    assert not two_factor.has_second_factor(user)  # not before a first code
    with pytest.raises(OperationError, match="not right"):
        two_factor.confirm_enrolment(user, "000000" if code_at(row.secret) != "000000" else "1")
    codes = two_factor.confirm_enrolment(user, code_at(row.secret))
    assert two_factor.has_second_factor(user)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = list(db.session.scalars(sa.select(RecoveryCode.code_hash)))
    assert len(stored) == 10
    assert not any(c.replace("-", "") in h for c in codes for h in stored)  # hashes only
    assert kinds(db, user) == ["two_factor_on"]
    with pytest.raises(OperationError, match="already on"):
        two_factor.begin_enrolment(user)


def test_starting_again_gives_a_new_secret(ctx, db, make_user):
    user = make_user("volunteer")
    first = two_factor.begin_enrolment(user).secret
    second = two_factor.begin_enrolment(user).secret
    assert first != second
    with pytest.raises(OperationError):
        two_factor.confirm_enrolment(user, code_at(first))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TwoFactor)) == 1


def test_a_wrong_code_is_refused_and_a_code_works_only_once(ctx, db, make_user):
    user = make_user("volunteer")
    secret, _ = enrol(db, user)
    now = code_at(secret)
    wrong = f"{(int(now) + 1) % 1_000_000:06d}"
    assert two_factor.check_code(user, wrong) is None
    assert two_factor.check_code(user, "abc") is None
    assert two_factor.check_code(user, "") is None
    assert two_factor.check_code(user, now) == "app"
    assert two_factor.check_code(user, now) is None  # replayed
    assert two_factor.check_code(user, code_at(secret, -1)) is None  # older than the last one
    assert two_factor.check_code(user, code_at(secret, +1)) == "app"  # the next step still works
    assert two_factor.check_code(user, code_at(secret, +3)) is None  # outside the window


def test_a_recovery_code_works_once(ctx, db, make_user):
    user = make_user("volunteer")
    _, codes = enrol(db, user)
    assert two_factor.check_code(user, codes[0].upper()) == "recovery"  # case and dashes aside
    assert two_factor.check_code(user, codes[0]) is None
    assert two_factor.check_code(user, codes[1].replace("-", " ")) == "recovery"
    assert two_factor.recovery_codes_left(user) == 8
    assert kinds(db, user)[-2:] == ["recovery_code_used", "recovery_code_used"]


def test_new_recovery_codes_need_a_code_and_replace_the_old_ones(ctx, db, make_user):
    user = make_user("volunteer")
    secret, old = enrol(db, user)
    with pytest.raises(OperationError):
        two_factor.regenerate_recovery_codes(user, "12345x")
    new = two_factor.regenerate_recovery_codes(user, code_at(secret))
    assert set(new).isdisjoint(old)
    assert two_factor.check_code(user, old[0]) is None
    assert two_factor.check_code(user, new[0]) == "recovery"
    assert "recovery_codes_new" in kinds(db, user)


def test_turning_off_needs_the_password_and_a_code(ctx, db, make_user):
    user = make_user("volunteer")
    secret, codes = enrol(db, user)
    with pytest.raises(OperationError, match="password"):
        two_factor.turn_off(user, "wrong password", code_at(secret), required_roles=())
    with pytest.raises(OperationError, match="code"):
        two_factor.turn_off(user, PASSWORD, "000000x", required_roles=())
    assert two_factor.has_second_factor(user)
    two_factor.turn_off(user, PASSWORD, codes[3], required_roles=())
    assert not two_factor.has_second_factor(user)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
    assert kinds(db, user)[-1] == "two_factor_off"


def test_turning_off_is_refused_when_the_role_requires_it(ctx, db, make_user):
    user = make_user("lead")
    secret, _ = enrol(db, user)
    with pytest.raises(OperationError, match="required"):
        two_factor.turn_off(user, PASSWORD, code_at(secret), required_roles=("admin", "lead"))
    assert two_factor.has_second_factor(user)


# --- signing in -----------------------------------------------------------------------------


def test_a_sign_in_with_two_factor_needs_a_code_after_the_password(app, client, db, make_user):
    user = make_user("volunteer", email="vee@example.org")
    secret, _ = enrol(db, user)
    first = password_step(client, "vee@example.org", next_url="/contacts/")
    assert first.status_code == 302 and first.location.endswith("/login/code")
    assert not signed_in(client)  # a right password alone signs nobody in
    page = client.get("/login/code")
    assert page.status_code == 200 and "Two-factor sign-in" in page.get_data(as_text=True)
    wrong = code_step(client, "000000" if code_at(secret) != "000000" else "111111")
    assert wrong.status_code == 200 and "not right" in wrong.get_data(as_text=True)
    done = code_step(client, code_at(secret))
    assert done.status_code == 302 and done.location.endswith("/contacts/")  # `next` kept
    assert signed_in(client)
    assert kinds(db, user)[-2:] == ["two_factor_wrong_code", "signed_in"]
    event = db.session.scalars(
        sa.select(SecurityEvent).where(SecurityEvent.kind == "signed_in")
    ).one()
    assert event.detail == "with an authenticator code"
    with client.session_transaction() as session:
        assert PENDING not in session


def test_a_sign_in_with_a_recovery_code_uses_it_up(app, client, db, make_user):
    user = make_user("volunteer", email="rec@example.org")
    _, codes = enrol(db, user)
    password_step(client, "rec@example.org")
    done = code_step(client, codes[0])
    assert done.status_code == 302
    home = client.get("/")
    assert home.status_code == 200 and "9 left" in home.get_data(as_text=True)
    client.post("/logout")
    password_step(client, "rec@example.org")
    again = code_step(client, codes[0])
    assert again.status_code == 200 and not signed_in(client)


def test_remember_me_from_the_password_step_applies(app, client, db, make_user):
    user = make_user("volunteer", email="keep@example.org")
    secret, _ = enrol(db, user)
    password_step(client, "keep@example.org", remember=True)
    assert client.get_cookie("remember_token") is None  # not before the code
    code_step(client, code_at(secret))
    assert client.get_cookie("remember_token") is not None


def test_wrong_codes_are_throttled_and_drop_the_pending_sign_in_after_five(
    app, client, db, make_user
):
    user = make_user("volunteer", email="guess@example.org")
    secret, _ = enrol(db, user)
    password_step(client, "guess@example.org")
    right = code_at(secret)
    wrongs = [f"{(int(right) + n) % 1_000_000:06d}" for n in range(100, 105)]
    for wrong in wrongs[:4]:
        assert code_step(client, wrong).status_code == 200
    last = code_step(client, wrongs[4])
    assert last.status_code == 302 and last.location.endswith("/login")
    assert code_step(client, right).location.endswith("/login")  # starts again: no pending
    assert not signed_in(client)
    failures = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.email == user.email, LoginAttempt.succeeded.is_(False))
    )
    assert failures == 5  # counted as failed sign-ins
    assert kinds(db, user).count("two_factor_wrong_code") == 5
    # From this address the account is throttled now, even with the right password...
    assert password_step(client, "guess@example.org").status_code == 429
    # ...but its owner, elsewhere, signs in with the password and the second factor.
    phone = app.test_client()
    assert password_step(phone, "guess@example.org", address="10.9.9.9").status_code == 302
    assert code_step(phone, right, address="10.9.9.9").status_code == 302
    assert signed_in(phone)


def test_the_code_step_is_throttled_like_the_password(app, client, db, make_user):
    user = make_user("volunteer", email="slow@example.org")
    secret, _ = enrol(db, user)
    password_step(client, "slow@example.org")
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        operations.record_failed_attempt(user.email, HERE)
    db.session.commit()
    refused = code_step(client, code_at(secret))
    assert refused.status_code == 302 and refused.location.endswith("/login")
    assert not signed_in(client)
    assert "sign_in_refused" in kinds(db, user)


def test_a_pending_sign_in_expires(app, client, db, make_user):
    user = make_user("volunteer", email="late@example.org")
    secret, _ = enrol(db, user)
    password_step(client, "late@example.org")
    with client.session_transaction() as session:
        session[PENDING] = {**session[PENDING], "since": int(time.time()) - 6 * 60}
    late = code_step(client, code_at(secret))
    assert late.status_code == 302 and late.location.endswith("/login")
    assert not signed_in(client)
    follow = client.get("/login").get_data(as_text=True)
    assert "timed out" in follow


def test_a_password_change_meanwhile_ends_the_pending_sign_in(app, client, db, make_user):
    user = make_user("volunteer", email="moved@example.org")
    secret, _ = enrol(db, user)
    password_step(client, "moved@example.org")
    user.set_password("a whole new kettle tune")
    db.session.commit()
    assert code_step(client, code_at(secret)).location.endswith("/login")
    assert not signed_in(client)


def test_the_code_page_without_a_pending_sign_in_and_odd_input_give_no_500(
    app, client, db, make_user
):
    assert client.get("/login/code").status_code == 302
    assert client.post("/login/code", data={"code": "123456"}).status_code == 302
    user = make_user("volunteer", email="odd@example.org")
    enrol(db, user)
    password_step(client, "odd@example.org")
    for odd in ["", "x" * 5000, "１２３４５６", "12 34 56", "\x00", "-----"]:
        response = code_step(client, odd)
        assert response.status_code in (200, 302), (odd, response.status_code)
    with client.session_transaction() as session:
        session[PENDING] = {"user": "nobody", "since": "yesterday"}
    assert client.get("/login/code").status_code == 302


def test_the_code_step_needs_its_csrf_token(app, client, db, make_user):
    user = make_user("volunteer", email="csrf2fa@example.org")
    secret, _ = enrol(db, user)
    password_step(client, "csrf2fa@example.org")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert code_step(client, code_at(secret)).status_code == 400
        page = client.get("/login/code").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        ok = client.post("/login/code", data={"code": code_at(secret), "csrf_token": token})
        assert ok.status_code == 302 and signed_in(client)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


# --- trusted browsers -----------------------------------------------------------------------


def test_a_trusted_browser_skips_the_code_until_the_password_changes(app, client, db, make_user):
    user = make_user("volunteer", email="trust@example.org")
    secret, _ = enrol(db, user)
    password_step(client, "trust@example.org")
    code_step(client, code_at(secret), trust=True)
    cookie = client.get_cookie(TRUST_COOKIE)
    assert cookie is not None and cookie.http_only
    assert "trusted_browser_added" in kinds(db, user)
    client.post("/logout")

    again = password_step(client, "trust@example.org")
    assert again.status_code == 302 and not again.location.endswith("/login/code")
    assert signed_in(client)
    client.post("/logout")

    # Another browser with nothing but the password is still asked.
    other = app.test_client()
    assert password_step(other, "trust@example.org").location.endswith("/login/code")

    # A forged or another user's cookie counts for nothing.
    forged = app.test_client()
    forged.set_cookie(TRUST_COOKIE, cookie.value[:-2] + "xx")
    assert password_step(forged, "trust@example.org").location.endswith("/login/code")

    # A new password revokes every trusted browser.
    operations.change_password(user, PASSWORD, "a whole new kettle tune", min_length=8)
    db.session.commit()
    after = client.post(
        "/login",
        data={"email": "trust@example.org", "password": "a whole new kettle tune"},
        environ_base={"REMOTE_ADDR": HERE},
    )
    assert after.location.endswith("/login/code")


def test_a_trust_cookie_of_another_account_does_not_skip_the_code(app, client, db, make_user):
    one = make_user("volunteer", email="one@example.org")
    two = make_user("volunteer", email="two@example.org")
    secret_one, _ = enrol(db, one)
    enrol(db, two)
    password_step(client, "one@example.org")
    code_step(client, code_at(secret_one), trust=True)
    client.post("/logout")
    assert password_step(client, "two@example.org").location.endswith("/login/code")


# --- roles that require it ------------------------------------------------------------------


@pytest.fixture
def required(app, monkeypatch):
    monkeypatch.setitem(app.config, "REQUIRE_2FA_ROLES", ("admin", "lead"))


def test_a_required_role_without_two_factor_can_only_set_it_up(
    app, client, db, make_user, required
):
    user = make_user("lead", email="lead2fa@example.org")
    first = password_step(client, "lead2fa@example.org", next_url="/contacts/")
    assert first.location.endswith("/account/two-factor")
    for path in ("/", "/contacts/", "/account/password", "/admin/users/"):
        blocked = client.get(path)
        assert blocked.status_code == 302 and blocked.location.endswith("/account/two-factor")
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "requires two-factor sign-in" in page
    assert client.post("/account/two-factor/begin").status_code == 302
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "<svg" in page and "qr-code" in page
    secret = re.search(r'id="two-factor-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert secret == app_row(db, user).secret
    confirmed = client.post("/account/two-factor/confirm", data={"code": code_at(secret)})
    assert confirmed.status_code == 200
    shown = shown_codes(confirmed)
    assert len(set(shown)) == 10
    assert confirmed.headers["Cache-Control"] == "no-store"
    assert client.get("/contacts/").status_code == 200  # free once set up
    # Turning it off is refused for the role.
    refused = client.post(
        "/account/two-factor/off", data={"off-password": PASSWORD, "off-code": shown[0]}
    )
    assert refused.status_code == 422
    db.session.expire_all()
    assert two_factor.has_second_factor(db.session.get(User, user.id))


def test_a_required_role_may_still_log_out(app, client, make_user, required):
    make_user("admin", email="adm2fa@example.org")
    password_step(client, "adm2fa@example.org")
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302
    assert client.get("/").location.split("?")[0].endswith("/login")


def test_a_role_not_required_is_not_held(app, client, make_user, required):
    make_user("volunteer", email="vol2fa@example.org")
    assert password_step(client, "vol2fa@example.org").location.endswith("/")
    assert client.get("/contacts/").status_code == 200


def test_the_required_roles_setting_reads_role_names(monkeypatch):
    from config import BaseConfig, ConfigError

    setting = BaseConfig.REQUIRE_2FA_ROLES
    assert setting.value({}) == ("admin", "lead")
    assert setting.value({"CRM_REQUIRE_2FA_ROLES": "none"}) == ()
    assert setting.value({"CRM_REQUIRE_2FA_ROLES": " Admin , volunteer"}) == ("admin", "volunteer")
    with pytest.raises(ConfigError, match="CRM_REQUIRE_2FA_ROLES"):
        setting.value({"CRM_REQUIRE_2FA_ROLES": "admin,boss"})


def test_the_settings_role_names_are_the_apps_roles():
    from config import ROLE_NAMES
    from crm.core.access import Role

    assert set(ROLE_NAMES) == {r.value for r in Role}


# --- the account page -----------------------------------------------------------------------


def test_a_person_sets_up_and_turns_off_two_factor_on_their_page(app, client, db, login, make_user):
    user = login(make_user("volunteer"))
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "Two-factor sign-in is off" in page
    client.post("/account/two-factor/begin")
    secret = app_row(db, user).secret
    wrong = client.post("/account/two-factor/confirm", data={"code": "12345"})
    assert wrong.status_code == 422 and "not right" in wrong.get_data(as_text=True)
    assert (
        client.post("/account/two-factor/confirm", data={"code": code_at(secret, -1)}).status_code
        == 200
    )
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert 'id="codes-left">10<' in page
    log = client.get("/account/security").get_data(as_text=True)
    assert "Two-factor sign-in turned on" in log
    regen = client.post("/account/two-factor/recovery-codes", data={"regen-code": code_at(secret)})
    assert regen.status_code == 200
    codes = shown_codes(regen)
    # Turning off: a wrong password keeps what was typed in the code field, and it stays on.
    no = client.post("/account/two-factor/off", data={"off-password": "nope", "off-code": codes[0]})
    assert no.status_code == 422 and "password is not right" in no.get_data(as_text=True)
    assert codes[0] in no.get_data(as_text=True)
    off = client.post(
        "/account/two-factor/off", data={"off-password": PASSWORD, "off-code": codes[0]}
    )
    assert off.status_code == 302
    assert "Two-factor sign-in is off" in client.get("/account/two-factor").get_data(as_text=True)


def test_the_account_pages_odd_posts_give_no_500(client, login, make_user):
    login(make_user("volunteer"))
    assert client.post("/account/two-factor/confirm", data={"code": "1" * 5000}).status_code == 422
    assert client.post("/account/two-factor/recovery-codes", data={}).status_code == 422
    assert client.post("/account/two-factor/off", data={"off-code": "x"}).status_code == 422
    assert client.post("/account/two-factor/begin").status_code == 302
    assert client.post("/account/two-factor/begin").status_code == 302  # again: a new key


# --- admin ----------------------------------------------------------------------------------


def test_an_admin_resets_a_users_two_factor_audited_and_logged(app, client, db, login, make_user):
    user = make_user("volunteer", email="lost@example.org")
    secret, _ = enrol(db, user)
    admin = login(make_user("admin"))
    listing = client.get("/admin/users/").get_data(as_text=True)
    row = re.search(r"<tr>(?:(?!</tr>).)*lost@example\.org(?:(?!</tr>).)*</tr>", listing, re.S)
    assert row and ">On<" in row.group(0)
    assert "Reset two-factor" in client.get(f"/admin/users/{user.id}/edit").get_data(as_text=True)
    done = client.post(f"/admin/users/{user.id}/two-factor/reset")
    assert done.status_code == 302
    db.session.expire_all()
    assert not two_factor.has_second_factor(db.session.get(User, user.id))
    entry = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.object_type == "user", AuditEntry.object_id == user.id
        )
    ).all()[-1]
    assert entry.actor_id == admin.id and "Two-factor" in entry.summary
    event = db.session.scalars(
        sa.select(SecurityEvent).where(SecurityEvent.kind == "two_factor_reset")
    ).one()
    assert event.user_id == user.id and admin.name in event.detail
    # Nothing to reset a second time; an admin's own is on their own page.
    again = client.post(f"/admin/users/{user.id}/two-factor/reset", follow_redirects=True)
    assert "no two-factor sign-in to reset" in again.get_data(as_text=True)
    own = client.post(f"/admin/users/{admin.id}/two-factor/reset", follow_redirects=True)
    assert "your account" in own.get_data(as_text=True)
    # The user now signs in with the password alone.
    other = app.test_client()
    assert password_step(other, "lost@example.org").location.endswith("/")


def test_a_reset_revokes_trusted_browsers(app, client, db, make_user):
    user = make_user("volunteer", email="tr@example.org")
    admin = make_user("admin")
    secret, _ = enrol(db, user)
    password_step(client, "tr@example.org")
    code_step(client, code_at(secret), trust=True)
    client.post("/logout")
    two_factor.reset(admin, user)
    db.session.commit()
    secret, _ = enrol(db, user)  # set up again, with a new phone
    assert password_step(client, "tr@example.org").location.endswith("/login/code")


def test_only_admins_reset_two_factor(client, db, as_role, make_user):
    user = make_user("volunteer")
    as_role("lead")
    assert client.post(f"/admin/users/{user.id}/two-factor/reset").status_code == 403
    assert client.post("/admin/users/99999999/two-factor/reset").status_code in (403, 404)


def test_a_sole_admin_locked_out_is_reset_from_the_command_line(runner, db, make_user):
    admin = make_user("admin", email="only@example.org")
    enrol(db, admin)
    result = runner.invoke(args=["crm", "reset-two-factor", "--email", "only@example.org"])
    assert result.exit_code == 0, result.output
    assert "is reset" in result.output
    db.session.expire_all()
    assert not two_factor.has_second_factor(db.session.get(User, admin.id))
    event = db.session.scalars(
        sa.select(SecurityEvent).where(SecurityEvent.kind == "two_factor_reset")
    ).one()
    assert event.detail == "from the command line"
    again = runner.invoke(args=["crm", "reset-two-factor", "--email", "only@example.org"])
    assert again.exit_code != 0 and "no two-factor sign-in" in again.output
    nobody = runner.invoke(args=["crm", "reset-two-factor", "--email", "nobody@example.org"])
    assert nobody.exit_code != 0 and "no account" in nobody.output
