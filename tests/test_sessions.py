"""Sessions and accounts through the real app, the real API and the real command: server-side
sessions (sign-out, a disabled account, a new password, idle and absolute time), the sign-in
throttle and its one answer, the password rule, expiring and revocable API tokens, per-account
ICS URLs, and `duban users disable|enable|password|token|tokens|revoke|ics-reset`.

The clock is ``storage.accounts.utcnow``; tests that move time replace it (``clock``)."""
import dataclasses
import datetime as dt
import json
import re
import statistics
import time

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from flows.cli import main
from storage import accounts
from storage.tables import ApiToken, AuditEntry, SignInFailure, UserAccount, WebSession
from tests.conftest import PASSWORD, csrf_of, sign_in
from web.app import create_app

TODAY = dt.date(2025, 4, 10)


class Clock:
    def __init__(self):
        self.now = dt.datetime(2025, 4, 10, 1, 0, tzinfo=dt.timezone.utc)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(accounts, "utcnow", c)
    return c


def make_app(settings, engine, **web):
    if web:
        settings = dataclasses.replace(settings, web=settings.web.model_copy(update=web))
    return create_app(settings, engine, today=lambda: TODAY)


@pytest.fixture
def app(plans_loaded, engine, personas):
    return make_app(plans_loaded, engine)


def attempt(app_or_client, username, password):
    """One sign-in from a fresh browser (or the given one): the response."""
    c = app_or_client if isinstance(app_or_client, TestClient) else TestClient(app_or_client, follow_redirects=False)
    return c.post("/login", data={"username": username, "password": password, "csrf": csrf_of(c, "/login"),
                                  "next": "/inbox"})


def refusal(r) -> str:
    assert r.status_code == 401, r.status_code
    return re.search(r'class="flash err">([^<]+)<', r.text)[1]


def copy_of(app, c: TestClient) -> TestClient:
    """Another browser holding a copy of ``c``'s cookie."""
    other = TestClient(app, follow_redirects=False)
    other.cookies.set("duban_session", c.cookies["duban_session"])
    return other


# ---------------------------------------------------------------- sessions

def test_sign_out_ends_the_session_a_copied_cookie_is_refused(app, engine):
    jy = sign_in(app, "jy")
    thief = copy_of(app, jy)
    assert thief.get("/inbox").status_code == 200              # the copy works while the session lives
    r = jy.post("/logout", data={"csrf": csrf_of(jy, "/inbox")})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert thief.get("/inbox").headers["location"] == "/login?next=/inbox"
    with Session(engine) as s:
        row = s.scalar(sa.select(WebSession))
        assert row.end_reason == "logout" and row.ended_at is not None
        assert len(row.key_hash) == 64 and row.key_hash not in thief.cookies["duban_session"]
        assert s.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.sign_out")) is not None


def test_signing_in_again_ends_the_earlier_session(app, engine):
    jy = sign_in(app, "jy")
    earlier = copy_of(app, jy)
    assert attempt(jy, "jy", PASSWORD).status_code == 303
    assert jy.get("/inbox").status_code == 200 and earlier.get("/inbox").status_code == 303
    with Session(engine) as s:
        assert s.scalars(sa.select(WebSession.end_reason).order_by(WebSession.id)).all() == ["logout", None]


def test_disabling_an_account_ends_its_sessions_and_its_tokens(app, engine, personas):
    jy, api = sign_in(app, "jy"), personas.department.api(app)
    assert jy.get("/inbox").status_code == 200 and api.get("/api/v1/me").status_code == 200
    with Session(engine) as s, s.begin():
        assert accounts.disable_user(s, "jy", actor="mz") is True
        assert accounts.disable_user(s, "jy", actor="mz") is False
    assert jy.get("/inbox").status_code == 303
    r = api.get("/api/v1/me")
    assert r.status_code == 401 and "已过期或已吊销" in r.json()["detail"]
    assert refusal(attempt(app, "jy", PASSWORD)) == accounts.SIGN_IN_REFUSED
    with Session(engine) as s, s.begin():
        assert accounts.enable_user(s, "jy", actor="mz") is True
    assert attempt(app, "jy", PASSWORD).status_code == 303
    assert api.get("/api/v1/me").status_code == 401               # revoked tokens stay revoked
    with Session(engine) as s:
        acts = s.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.in_(("user.disable", "user.enable")))).all()
        assert sorted(acts) == ["user.disable", "user.enable"]


def test_a_new_password_ends_the_sessions(app, engine):
    jy = sign_in(app, "jy")
    with Session(engine) as s, s.begin():
        accounts.set_password(s, "jy", "another-horse-7")
    assert jy.get("/inbox").status_code == 303
    assert attempt(app, "jy", PASSWORD).status_code == 401
    assert attempt(app, "jy", "another-horse-7").status_code == 303


def test_idle_and_absolute_timeouts(app, engine, clock):
    jy = sign_in(app, "jy")
    clock.advance(minutes=119)
    assert jy.get("/inbox").status_code == 200                 # used within 2 h: alive, and seen now
    clock.advance(minutes=119)
    assert jy.get("/inbox").status_code == 200
    clock.advance(minutes=121)                                  # 2 h 1 min without a request
    assert jy.get("/inbox").headers["location"] == "/login?next=/inbox"

    jy = sign_in(app, "jy")
    for _ in range(7):                                          # busy all day: every 100 minutes
        clock.advance(minutes=100)
        assert jy.get("/inbox").status_code == 200
    clock.advance(minutes=20)                                   # 12 h after sign-in
    assert jy.get("/inbox").status_code == 303
    with Session(engine) as s:
        assert sorted(s.scalars(sa.select(WebSession.end_reason)).all()) == ["expired", "idle"]
    clock.advance(days=31)
    sign_in(app, "jy")                                          # a month on, the old rows are gone
    with Session(engine) as s:
        assert s.scalars(sa.select(WebSession.end_reason)).all() == [None]


def test_session_times_come_from_config(plans_loaded, engine, personas, clock):
    app = make_app(plans_loaded, engine, session_idle_minutes=5, session_hours=1)
    jy = sign_in(app, "jy")
    clock.advance(minutes=4)
    assert jy.get("/inbox").status_code == 200
    clock.advance(minutes=6)
    assert jy.get("/inbox").status_code == 303
    assert "max-age=3600" in attempt(app, "jy", PASSWORD).headers["set-cookie"].lower()


# ---------------------------------------------------------------- the throttle

def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(app, engine, clock):
    answers = {refusal(attempt(app, "jy", f"wrong-{i}")) for i in range(5)}
    locked = attempt(app, "jy", PASSWORD)
    answers.add(refusal(locked))
    answers.add(refusal(attempt(app, "nobody", PASSWORD)))
    assert answers == {accounts.SIGN_IN_REFUSED}               # one answer for all
    assert attempt(app, "mz", PASSWORD).status_code == 303     # another account is not locked
    clock.advance(minutes=14)
    assert attempt(app, "jy", PASSWORD).status_code == 401     # still within 15 min of failures
    clock.advance(minutes=16)
    assert attempt(app, "jy", PASSWORD).status_code == 303     # the failures have aged out
    with Session(engine) as s:
        reasons = [e.after["reason"] for e in s.scalars(sa.select(AuditEntry).where(
            AuditEntry.action == "user.sign_in_failed").order_by(AuditEntry.id))]
        assert reasons == ["password"] * 5 + ["locked", "unknown", "locked"]
        unknown = s.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.sign_in_failed",
                                                        AuditEntry.object_id == "?"))
        assert unknown.after == {"username": None, "client": "testclient", "reason": "unknown"}     # no typed name
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "user.sign_in")) == 2
        # old failures are pruned as new ones come in; nothing older than the window remains
        assert s.scalar(sa.select(sa.func.count()).select_from(SignInFailure)) <= 8


def test_enable_lifts_a_lock(app, engine, personas):
    for i in range(5):
        attempt(app, "jy", f"wrong-{i}")
    assert attempt(app, "jy", PASSWORD).status_code == 401
    with Session(engine) as s, s.begin():
        assert accounts.enable_user(s, "jy", actor="mz") is True
    assert attempt(app, "jy", PASSWORD).status_code == 303


def test_one_address_guessing_many_names_is_locked_out(plans_loaded, engine, personas, clock):
    app = make_app(plans_loaded, engine, sign_in_failures_per_address=8)
    for i in range(8):                          # one or two tries per name: no account reaches 5
        refusal(attempt(app, ["jy", "mz", "dc", "zr", "x1", "x2", "x3", "x4"][i], "wrong-password"))
    assert attempt(app, "dc", PASSWORD).status_code == 401     # this address (TestClient's) is locked
    clock.advance(minutes=16)
    assert attempt(app, "dc", PASSWORD).status_code == 303


def test_the_throttle_is_in_the_database_shared_by_apps(plans_loaded, engine, personas):
    """Two app instances (two processes behind one proxy) count the same failures."""
    first, second = make_app(plans_loaded, engine), make_app(plans_loaded, engine)
    for i in range(5):
        attempt(first if i % 2 else second, "jy", f"wrong-{i}")
    assert attempt(first, "jy", PASSWORD).status_code == 401
    assert attempt(second, "jy", PASSWORD).status_code == 401


def test_every_refusal_costs_one_argon2_verification(app, engine, monkeypatch):
    """An unknown name is checked against a dummy hash, a locked or disabled account against
    its own: so they cannot be told apart by the time of the answer."""
    calls = []
    real = accounts._hasher

    class Counting:
        def verify(self, hash, password):
            calls.append(hash)
            return real.verify(hash, password)

        def hash(self, password):
            return real.hash(password)

    monkeypatch.setattr(accounts, "_hasher", Counting())
    accounts._dummy_hash.cache_clear()
    with Session(engine) as s, s.begin():
        accounts.disable_user(s, "dc")
    for name, password in (("nobody", "whatever-1"), ("jy", "wrong-one"), ("dc", PASSWORD), ("mz", PASSWORD)):
        before = len(calls)
        attempt(app, name, password)
        assert len(calls) == before + 1, name
    for i in range(4):
        attempt(app, "jy", f"wrong-{i}")
    before = len(calls)
    assert refusal(attempt(app, "jy", PASSWORD)) == accounts.SIGN_IN_REFUSED       # locked
    assert len(calls) == before + 1
    assert calls[0] == accounts._dummy_hash() and calls[0].startswith("$argon2")


@pytest.mark.slow
def test_unknown_and_known_names_answer_in_about_the_same_time(plans_loaded, engine, personas):
    app = make_app(plans_loaded, engine, sign_in_failures=1000, sign_in_failures_per_address=1000)
    c = TestClient(app, follow_redirects=False)
    csrf = csrf_of(c, "/login")

    def took(name):
        start = time.perf_counter()
        r = c.post("/login", data={"username": name, "password": "wrong-password", "csrf": csrf})
        assert r.status_code == 401
        return time.perf_counter() - start

    took("jy")
    unknown = statistics.median(took("nobody") for _ in range(7))
    known = statistics.median(took("jy") for _ in range(7))
    print(f"\nsign-in refused in {unknown * 1000:.0f} ms (unknown name), {known * 1000:.0f} ms (known name)")
    assert 0.5 < unknown / known < 2


# ---------------------------------------------------------------- passwords

@pytest.mark.parametrize("password, problem", [
    ("short-1", "至少 10 位"),
    ("x" * 257 + "1", "至多 256 位"),
    ("1234567890123", "只由一类字符"),
    ("abcdefghijkl", "只由一类字符"),
    ("PASSWORD12", "过于常见"),
    ("qwerty1234", "过于常见"),
    ("ab12ab12ab12", "过于常见"),
    ("jy-secret-1", None),
    ("liming-2025-x", "包含用户名"),
    ("duban-demo", None),
    ("correct-horse-9", None),
    ("关爱流动儿童2025", None),
])
def test_password_rule(password, problem):
    found = accounts.password_problem(password, "liming")
    assert (found is None) if problem is None else (problem in found), found


def test_the_rule_applies_to_new_accounts_and_new_passwords(engine, plans_loaded):
    with Session(engine) as s:
        with pytest.raises(accounts.AccountError, match="只由一类字符"):
            accounts.add_user(s, username="wang", password="12345678901", role="coordinator", jurisdiction="新华区")
        with pytest.raises(accounts.AccountError, match="不能是用户名"):
            accounts.add_user(s, username="wang-xiaoming", password="Wang-Xiaoming", role="coordinator",
                              jurisdiction="新华区")
        accounts.add_user(s, username="wang", password="min-zheng-2025", role="coordinator", jurisdiction="新华区")
        with pytest.raises(accounts.AccountError, match="至少 10 位"):
            accounts.set_password(s, "wang", "short")


# ---------------------------------------------------------------- API tokens

def test_tokens_expire_are_listed_and_revoked_through_the_real_api(app, engine, clock):
    with Session(engine) as s, s.begin():
        user = accounts.find_user(s, "jy")
        short = accounts.add_token(s, user, label="报表同步", days=1)
        long = accounts.add_token(s, user, label="台账导入")
    assert TestClient(app, headers={"Authorization": f"Bearer {short}"}).get("/api/v1/me").status_code == 200
    clock.advance(days=1, seconds=1)
    r = TestClient(app, headers={"Authorization": f"Bearer {short}"}).get("/api/v1/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    api = TestClient(app, headers={"Authorization": f"Bearer {long}"})
    assert api.get("/api/v1/me").json()["username"] == "jy"
    with Session(engine) as s:
        rows = {r["label"]: r for r in accounts.list_tokens(s, "jy")}
    assert rows["报表同步"]["state"] == "已过期" and rows["台账导入"]["state"] == "有效"
    assert rows["台账导入"]["last_used"] == clock.now
    assert rows["台账导入"]["expires"] - rows["台账导入"]["created"] == dt.timedelta(days=90)
    with Session(engine) as s, s.begin():
        assert accounts.revoke_token(s, "jy", rows["台账导入"]["id"], actor="mz") == 1
        with pytest.raises(accounts.AccountError, match="已于"):
            accounts.revoke_token(s, "jy", rows["台账导入"]["id"])
        with pytest.raises(accounts.AccountError, match="没有编号为"):
            accounts.revoke_token(s, "mz", rows["台账导入"]["id"])     # another account's token
        with pytest.raises(accounts.AccountError, match="1 到 730"):
            accounts.add_token(s, user, days=0)
    assert api.get("/api/v1/me").status_code == 401


# ---------------------------------------------------------------- ICS

def ics_path(c: TestClient) -> str:
    return re.search(r'id="ics" readonly value="([^"]+)"', c.get("/inbox").text)[1].split("testserver", 1)[1]


def test_each_account_rotates_its_own_ics_url(app, engine, personas):
    jy, zr = sign_in(app, "jy"), sign_in(app, "zr")
    old, theirs = ics_path(jy), ics_path(zr)
    anyone = TestClient(app)
    assert anyone.get(old).status_code == 200 and anyone.get(theirs).status_code == 200
    assert "BEGIN:VCALENDAR" in anyone.get(old).text
    assert 'id="ics"' not in sign_in(app, "mz").get("/inbox").text            # a coordinator has no feed
    r = jy.post("/ics/rotate", data={"csrf": csrf_of(jy, "/inbox")})
    assert r.status_code == 303
    new = ics_path(jy)
    assert new != old and anyone.get(old).status_code == 404 and anyone.get(new).status_code == 200
    assert ics_path(zr) == theirs and anyone.get(theirs).status_code == 200       # the others' stay
    assert jy.post("/ics/rotate", data={"csrf": "forged"}).status_code == 403
    assert TestClient(app, follow_redirects=False).post("/ics/rotate", data={}).status_code in (303, 403)
    assert anyone.get(new).status_code == 200
    mz_id = personas.coordinator.user_id
    with Session(engine) as s:
        mz_url = f"/ics/{mz_id}/{accounts.ics_signature(app.state.secret, s.get(UserAccount, mz_id))}.ics"
    assert anyone.get(mz_url).status_code == 404                # roles without a task list have no feed
    with Session(engine) as s, s.begin():
        accounts.disable_user(s, "jy")
    assert anyone.get(new).status_code == 404


# ---------------------------------------------------------------- the command

def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_users_commands(personas, engine, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "users", "token", "jy", "--label", "报表同步", "--days", "30")
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert token.startswith("dbn_")
    code, out, _ = run(capsys, "users", "tokens", "jy")
    assert code == 0 and "报表同步" in out and "有效" in out and token not in out
    code, out, _ = run(capsys, "users", "tokens", "jy", "--format", "json")
    rows = json.loads(out)
    assert len(rows) == 2 and all("token" not in r and "hash" not in json.dumps(r) for r in rows)
    new = next(r for r in rows if r["label"] == "报表同步")
    assert dt.datetime.fromisoformat(new["expires"]) - dt.datetime.fromisoformat(new["created"]) == dt.timedelta(days=30)
    code, _, err = run(capsys, "users", "token", "jy", "--days", "5000")
    assert code == 2 and "--days" in err and "730" in err

    code, _, err = run(capsys, "users", "revoke", "jy")
    assert code == 2 and "--all" in err
    code, out, _ = run(capsys, "users", "revoke", "jy", str(new["id"]))
    assert code == 0 and "1 个" in out
    code, out, _ = run(capsys, "users", "revoke", "jy", "--all")
    assert code == 0 and "1 个" in out
    code, out, _ = run(capsys, "users", "tokens", "jy")
    assert out.count("已吊销") == 2

    code, _, err = run(capsys, "users", "password", "jy", "--password", "1234567890")
    assert code == 1 and "只由一类字符" in err
    code, out, _ = run(capsys, "users", "password", "jy", "--password", "new-horse-42")
    assert code == 0 and "已修改" in out
    with Session(engine) as s:
        assert accounts.check_password(accounts.find_user(s, "jy"), "new-horse-42")

    code, out, _ = run(capsys, "users", "disable", "jy")
    assert code == 0 and "已停用" in out
    code, out, _ = run(capsys, "users", "list", "--format", "json")
    assert next(u for u in json.loads(out) if u["username"] == "jy")["active"] is False
    code, _, err = run(capsys, "users", "token", "jy")
    assert code == 1 and "已停用" in err
    code, out, _ = run(capsys, "users", "enable", "jy")
    assert code == 0 and "已启用" in out
    code, out, _ = run(capsys, "users", "enable", "jy")
    assert code == 0 and "本已启用" in out

    with Session(engine) as s:
        salt = accounts.find_user(s, "jy").ics_salt
    code, out, _ = run(capsys, "users", "ics-reset", "jy")
    assert code == 0 and "已更换" in out
    with Session(engine) as s:
        assert accounts.find_user(s, "jy").ics_salt != salt
        acts = set(s.scalars(sa.select(AuditEntry.action).where(AuditEntry.actor == "cli")))
    assert {"token.add", "token.revoke", "user.password", "user.disable", "user.enable", "user.ics"} <= acts

    code, _, err = run(capsys, "users", "disable", "nobody")
    assert code == 1 and "没有用户名为 nobody 的账号" in err and "Traceback" not in err


def test_tokens_and_sessions_tables_hold_only_hashes(app, engine, personas):
    sign_in(app, "jy")
    with Session(engine) as s:
        hashes = s.scalars(sa.select(ApiToken.token_hash)).all() + s.scalars(sa.select(WebSession.key_hash)).all()
    assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
    assert personas.department.token not in hashes


# ---------------------------------------------------------------- the migration

def test_migration_gives_old_tokens_an_expiry_and_each_account_its_own_ics_salt(engine, personas, plans_loaded):
    """A database from before sessions: its tokens keep working for 90 days from the upgrade,
    then expire; every account gets an ICS salt of its own."""
    from storage.db import migrate

    migrate(engine, "0009", down=True)
    assert "web_session" not in sa.inspect(engine).get_table_names()
    migrate(engine)
    upgraded = dt.datetime.now(dt.timezone.utc)
    with Session(engine) as s:
        tokens = s.scalars(sa.select(ApiToken)).all()
        salts = s.scalars(sa.select(UserAccount.ics_salt)).all()
    assert tokens and all(abs(t.expires_at - upgraded - dt.timedelta(days=90)) < dt.timedelta(minutes=5) for t in tokens)
    assert len(set(salts)) == len(salts) == 4 and all(len(x) == 32 for x in salts)
    app = make_app(plans_loaded, engine)
    assert personas.department.api(app).get("/api/v1/me").status_code == 200
    assert sign_in(app, "jy").get("/inbox").status_code == 200
