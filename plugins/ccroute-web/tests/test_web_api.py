"""Authentication, roles, bad input, the wallboard, queue statistics and the webhook."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import pytest
from web_testing import PASSWORD, TOKEN, centre, eventually, login

from ccroute_web import SESSION_COOKIE, WebChannel, WebError, hash_secret, verify_secret
from ccroute_web.testing import SocketClosed, WebClient

pytestmark = pytest.mark.anyio


# ---------------------------------------------------------- authentication


def test_secrets_are_stored_salted_and_checked() -> None:
    one, two = hash_secret("s3cret", n=2**4), hash_secret("s3cret", n=2**4)
    assert one != two and one.startswith("scrypt$16$8$1$")
    assert verify_secret("s3cret", one) and not verify_secret("s3cret!", one)
    import hashlib

    salt = b"0123456789abcdef"
    key = hashlib.pbkdf2_hmac("sha256", b"pw", salt, 200_000)
    enc = base64.urlsafe_b64encode
    pbkdf2 = f"pbkdf2_sha256$200000${enc(salt).decode()}${enc(key).decode()}"
    assert verify_secret("pw", pbkdf2) and not verify_secret("px", pbkdf2)


@pytest.mark.parametrize(
    ("users", "message"),
    [
        ({"al": {"role": "agent", "password": "plain text"}}, "web user 'al' password: not a hash"),
        ({"al": {"role": "agent"}}, "web user 'al' has neither a password nor a token"),
        ({"al": {"role": "boss", "password": "x"}}, "web user 'al': Invalid enum value 'boss'"),
        ({"al": {"role": "agent", "password": "scrypt$3$8$1$AA$AA"}}, "scrypt cost out of range"),
    ],
)
def test_bad_users_are_refused_naming_the_user(users: Any, message: str) -> None:
    with pytest.raises(WebError, match=message.replace("$", r"\$")):
        WebChannel(users=users)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"port": 70000}, "port"),
        ({"colour": "blue"}, "colour"),
        ({"interval_minutes": 7}, "interval_minutes"),
        ({"secret": "short"}, "secret"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(settings: Any, message: str) -> None:
    with pytest.raises(WebError, match=message):
        WebChannel(**settings)


async def test_login_sets_a_signed_http_only_strict_cookie() -> None:
    async with centre() as (_service, web):
        client = WebClient(web.app)
        bad = await client.login("alice", "wrong")
        assert bad.status_code == 401 and bad.json()["field"] == "password"
        unknown = await client.login("mallory", PASSWORD)
        assert unknown.status_code == 401
        assert SESSION_COOKIE not in client.http.cookies
        ok = await client.login("alice", PASSWORD)
        assert ok.json() == {"user": "alice", "role": "agent", "name": "Alice", "agent_id": "alice"}
        cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        # a cookie not signed with the secret is nobody
        forged = WebClient(web.app)
        forged.http.cookies.set(SESSION_COOKIE, client.http.cookies[SESSION_COOKIE][:-4] + "AAAA")
        assert (await forged.get("/api/me")).status_code == 401


async def test_basic_authentication_with_a_token_for_other_systems() -> None:
    async with centre() as (_service, web):
        client = WebClient(web.app)
        ok = await client.get("/api/queues", auth=("crm", TOKEN))
        assert ok.status_code == 200
        bad = await client.get("/api/queues", auth=("crm", "guess"))
        assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith("Basic")
        # a token is no password: the login form does not take it
        assert (await client.login("crm", TOKEN)).status_code == 401
        garbled = await client.get("/api/queues", headers={"authorization": "Basic !!!"})
        assert garbled.status_code == 401


@pytest.mark.parametrize(
    ("user", "method", "path", "status"),
    [
        (None, "GET", "/api/agent", 401),
        (None, "GET", "/api/wallboard", 401),
        (None, "POST", "/api/contacts", 401),
        ("alice", "GET", "/api/wallboard", 403),
        ("alice", "GET", "/api/queues", 403),
        ("alice", "POST", "/api/contacts", 403),
        ("sam", "GET", "/api/agent", 403),
        ("sam", "POST", "/api/agent/presence", 403),
        ("sam", "POST", "/api/contacts", 403),
        ("crm", "GET", "/api/wallboard", 403),
        ("crm", "GET", "/api/agent/stats", 403),
    ],
)
async def test_each_role_reaches_only_its_own_routes(
    user: str | None, method: str, path: str, status: int
) -> None:
    async with centre() as (service, web):
        client = WebClient(web.app)
        auth = None
        if user == "crm":
            auth = ("crm", TOKEN)
        elif user is not None:
            await client.login(user, PASSWORD)
        body = {"presence": "available"} if "presence" in path else {}
        if path == "/api/contacts":
            body = {"channel": "task", "queue": "support"}
        r = await client.http.request(
            method, path, json=body if method == "POST" else None, auth=auth
        )
        assert r.status_code == status, r.text
        assert r.json()["status"] == status
        assert service.router.contact_ids == []
        assert service.router.agent("alice").presence.value == "offline"


async def test_sockets_need_the_right_role_and_the_same_origin() -> None:
    async with centre() as (_service, web):
        anonymous, alice, sam = (
            WebClient(web.app),
            await login(web, "alice"),
            await login(web, "sam"),
        )
        for client, path in [
            (anonymous, "/ws/agent"),
            (anonymous, "/ws/wallboard"),
            (alice, "/ws/wallboard"),
            (sam, "/ws/agent"),
        ]:
            with pytest.raises(SocketClosed) as refused:
                async with client.socket(path):
                    pass
            assert not refused.value.accepted
        # another site's page cannot use the agent's cookie
        with pytest.raises(SocketClosed):
            async with alice.socket("/ws/agent", origin="https://evil.example"):
                pass
        async with alice.socket("/ws/agent") as ws:
            assert (await ws.receive_json())["type"] == "state"


# --------------------------------------------------------------- bad input


async def test_a_post_must_be_json_with_a_json_content_type() -> None:
    async with centre() as (service, web):
        alice = await login(web, "alice")
        form = await alice.http.post("/api/agent/presence", data={"presence": "available"})
        assert form.status_code == 415
        text = await alice.http.post(
            "/api/agent/presence",
            content=b'{"presence": "available"}',
            headers={"content-type": "text/plain"},
        )
        assert text.status_code == 415
        broken = await alice.http.post(
            "/api/agent/presence", content=b"{oops", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 400
        assert service.router.agent("alice").presence.value == "offline"


async def test_bodies_over_the_limit_are_refused() -> None:
    async with centre(max_body_bytes=1024) as (service, web):
        client = WebClient(web.app)
        r = await client.post(
            "/api/contacts",
            {"channel": "task", "queue": "support", "attributes": {"note": "x" * 2000}},
            auth=("crm", TOKEN),
        )
        assert r.status_code == 413
        assert service.router.contact_ids == []


async def test_unknown_routes_answer_json() -> None:
    async with centre() as (_service, web):
        r = await WebClient(web.app).get("/api/nothing")
        assert r.status_code == 404 and r.json()["status"] == 404


# ------------------------------------------------------------------ webhook


async def test_the_webhook_submits_a_contact_through_the_inbound_pipeline() -> None:
    async with centre() as (service, web):
        crm = WebClient(web.app)
        r = await crm.post(
            "/api/contacts",
            {
                "id": "T-1",
                "channel": "task",
                "queue": "support",
                "requirements": {},
                "attributes": {"subject": "refund"},
            },
            auth=("crm", TOKEN),
        )
        assert r.status_code == 202
        assert r.json() == {"contact_id": "T-1", "state": "waiting", "position": 1}
        assert service.router.contact("T-1").attributes["subject"] == "refund"
        again = await crm.post(
            "/api/contacts",
            {"id": "T-1", "channel": "task", "queue": "support"},
            auth=("crm", TOKEN),
        )
        assert again.status_code == 409
        made = await crm.post(
            "/api/contacts", {"channel": "task", "queue": "support"}, auth=("crm", TOKEN)
        )
        assert made.json()["contact_id"].startswith("hook-") and made.json()["position"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "voice", "queue": "support"}, "channel"),
        ({"channel": "task", "queue": "nowhere"}, "queue"),
        ({"channel": "task", "queue": "support", "requirements": {"billing": 11}}, "requirements"),
        ({"channel": "task", "queue": "support", "priority_seconds": "soon"}, "priority_seconds"),
        ({"channel": "task", "queue": "support", "id": "has space"}, "id"),
        ({"queue": "support"}, "channel"),
        ({"channel": "task", "queue": "support", "tier": 9}, "tier"),
    ],
)
async def test_bad_contacts_are_refused_naming_the_field(body: Any, field: str) -> None:
    async with centre() as (service, web):
        r = await WebClient(web.app).post("/api/contacts", body, auth=("crm", TOKEN))
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field
        assert service.router.contact_ids == []


# ---------------------------------------------------------------- wallboard


async def test_the_wallboard_counts_offered_answered_abandoned_and_agents_by_state() -> None:
    async with centre(resume_grace=0.05, wallboard_every=0.1) as (service, web):
        sam, alice = await login(web, "sam"), await login(web, "alice")
        async with sam.socket("/ws/wallboard") as board:
            first = (await board.receive_json())["wallboard"]
            assert first["queues"][0]["name"] == "support"
            assert first["agents"] == {
                "offline": 2,
                "not-ready": 0,
                "idle": 0,
                "busy": 0,
                "wrap-up": 0,
            }
            customer = WebClient(web.app)
            # one chat answered, one abandoned
            async with customer.socket("/ws/chat") as ws:
                answered_id = (await ws.receive_json())["conversation"]
                await ws.send_json({"type": "message", "text": "one"})
                await ws.receive_until("queued")
                async with customer.socket("/ws/chat") as ws2:
                    await ws2.receive_json()
                    await ws2.send_json({"type": "message", "text": "two"})
                    await ws2.receive_until("queued")
                    await ws2.send_json({"type": "leave"})
                    await ws2.receive_until("closed")
                await alice.post("/api/agent/presence", {"presence": "available"})
                await eventually(lambda: answered_id in service.router.agent("alice").offered)
                await alice.post(f"/api/agent/offers/{answered_id}/accept")

                def settled(frame: dict[str, Any]) -> bool:
                    q = frame["queues"][0]["today"]
                    return q["answered"] == 1 and q["abandoned"] == 1

                with anyio.fail_after(5):
                    while not settled(
                        frame := (await board.receive_until("wallboard"))["wallboard"]
                    ):
                        pass
                queue = frame["queues"][0]
                assert queue["today"]["offered"] == 2 and queue["interval"]["offered"] == 2
                assert queue["waiting"] == 0 and queue["agents"] == {"logged_in": 1, "available": 1}
                assert queue["today"]["service_level"] == 1.0  # the abandon was short
                assert frame["agents"]["busy"] == 1 and frame["agents"]["offline"] == 1
                stats = await sam.get("/api/queues/support")
                assert stats.json()["today"] == queue["today"]
                assert (await sam.get("/api/queues/nope")).status_code == 404
                report = service.metrics.report(service.router.now).queues["support"]
                assert (report.offered, report.answered, report.abandoned) == (2, 1, 1)


async def test_logout_ends_the_users_sessions_on_every_browser() -> None:
    async with centre() as (_service, web):
        laptop, phone = await login(web, "sam"), await login(web, "sam")
        assert (await phone.get("/api/me")).status_code == 200
        assert (await laptop.post("/api/logout")).status_code == 200
        assert (await phone.get("/api/me")).status_code == 401
        again = await login(web, "sam")
        assert (await again.get("/api/me")).status_code == 200


async def test_repeated_failed_logins_make_the_user_wait() -> None:
    async with centre() as (_service, web):
        client = WebClient(web.app)
        for _ in range(5):
            assert (await client.login("sam", "guess")).status_code == 401
        locked = await client.login("sam", PASSWORD)
        assert locked.status_code == 429 and locked.json()["field"] == "user"
        # another user is not held up
        assert (await client.login("alice", PASSWORD)).status_code == 200


async def test_the_pages_fetch_gets_a_401_without_a_basic_challenge() -> None:
    async with centre() as (_service, web):
        client = WebClient(web.app)
        api = await client.get("/api/me")
        assert api.status_code == 401 and "www-authenticate" in api.headers
        page = await client.get("/api/me", headers={"x-requested-with": "fetch"})
        assert page.status_code == 401 and "www-authenticate" not in page.headers
