"""Signing in and the console's defences: lockout after five wrong passwords, CSRF tokens on every form,
server-side sessions, security headers, Secure cookies over TLS."""

from __future__ import annotations

import httpx
import pytest
from console_support import csrf_of, signed_in_client, sign_in, start_console, stop

from vte.console import security, sessions


def test_five_wrong_passwords_lock_the_account_for_15_minutes(world, page):
    console = world.console.url
    for attempt in range(1, 6):
        sign_in(page, console, "locked_viewer", f"wrong password {attempt}")
        error = page.inner_text("#sign-in-error")
        assert ("已锁定" in error) == (attempt == 5), error
    sign_in(page, console, "locked_viewer", world.passwords["locked_viewer"])
    assert "已锁定" in page.inner_text("#sign-in-error") and page.locator("#who").count() == 0

    [(minutes,)] = world.query("select round(extract(epoch from locked_until - now()) / 60) from console.users"
                               " where username = 'locked_viewer'")
    assert 14 <= minutes <= 15
    events = world.query("select action, details ->> 'reason' from console.audit_events"
                         " where username = 'locked_viewer' order by event_id")
    assert events == [*[("sign_in.failure", "wrong password")] * 4, ("sign_in.lockout", None),
                      ("sign_in.refused", "locked")]

    # `vte users reset-password` lifts the lockout
    from vte.console import users

    with world.admin() as conn:
        password = users.reset_password(conn, "locked_viewer", actor="test")
    sign_in(page, console, "locked_viewer", password)
    assert "locked_viewer" in page.inner_text("#who")


def test_an_unknown_user_gets_the_answer_of_a_wrong_password(world):
    http = httpx.Client(base_url=world.console.url)
    unknown = http.post("/sign-in", data={"csrf": csrf_of(http.get("/sign-in").text), "username": "nobody_here",
                                          "password": "x" * 12})
    # each answer carries a new sign-in token
    wrong = http.post("/sign-in", data={"csrf": csrf_of(unknown.text), "username": "hz_viewer", "password": "x" * 12})
    assert unknown.status_code == wrong.status_code == 401
    assert "用户名或密码不正确" in unknown.text and "用户名或密码不正确" in wrong.text


def test_a_post_without_the_csrf_token_is_refused(world):
    refusals = ("select count(*) from console.audit_events where username = 'hz_viewer'"
                " and action = 'csrf.refused'")
    [(before,)] = world.query(refusals)
    http = signed_in_client(world.console.url, "hz_viewer", world.passwords["hz_viewer"])
    form = {"region": "330102", "month": f"{world.month:%Y-%m}"}
    for fields in (form, {**form, "csrf": "forged"}):
        refused = http.post("/review/accept", data=fields)
        assert refused.status_code == 403 and "页面已过期" in refused.text
        assert http.post("/sign-out", data=fields).status_code == 403
        assert http.post(f"/alerts/{world.alerts['CS04']}/resolve", data=fields).status_code == 403
    assert http.get("/monitoring").status_code == 200  # still signed in: the sign-out was refused too
    # with the token, a viewer is still not a reviewer
    forbidden = http.post("/review/accept", data={**form, "csrf": csrf_of(http.get("/review").text)})
    assert forbidden.status_code == 403 and "无权" in forbidden.text
    assert world.query(refusals) == [(before + 6,)]
    assert world.query("select subject, details ->> 'what' from console.audit_events where username = 'hz_viewer'"
                       " and action = 'access.forbidden' order by event_id desc limit 1") == \
        [(f"330102 {world.month:%Y-%m}", "审核该地区")]
    assert world.query("select state from alerts.alerts where alert_id = %s", (world.alerts["CS04"],)) == [("open",)]

    # the sign-in form's token: without it, or from another page, nobody signs in
    anonymous = httpx.Client(base_url=world.console.url)
    anonymous.get("/sign-in")
    answer = anonymous.post("/sign-in", data={"username": "hz_viewer", "password": world.passwords["hz_viewer"]})
    assert answer.status_code == 403 and sessions.COOKIE not in answer.cookies


def test_every_answer_carries_the_security_headers_and_the_cookies_are_strict(world):
    http = httpx.Client(base_url=world.console.url)
    for path in ("/sign-in", "/static/console.css", "/no-such-page"):
        headers = http.get(path).headers
        assert headers["content-security-policy"].startswith("default-src 'self'")
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert http.get("/sign-in").headers["cache-control"] == "no-store"
    assert http.get("/monitoring").headers["location"] == "/sign-in"  # no session, no page
    assert http.get("/openapi.json").status_code == http.get("/docs").status_code == 404

    signed = signed_in_client(world.console.url, "hz_viewer", world.passwords["hz_viewer"])
    cookie = next(c for c in signed.cookies.jar if c.name == sessions.COOKIE)
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite") == "strict"
    assert not cookie.secure  # plain HTTP here; over TLS below
    # the table holds the token's hash, never the token
    assert world.query("select count(*) from console.sessions where token_sha256 = %s",
                       (sessions.token_sha256(cookie.value),)) == [(1,)]
    assert world.query("select count(*) from console.sessions where token_sha256 = %s", (cookie.value,)) == [(0,)]


@pytest.fixture(scope="module")
def tls_console(world, tmp_path_factory):
    directory = tmp_path_factory.mktemp("console-tls")
    cert, key = _self_signed(directory)
    console = start_console(world.settings, tls=(cert, key), verify=str(cert))
    yield console, cert
    stop(console.process)


def _self_signed(directory):
    """A throw-away certificate for 127.0.0.1, made as the intake's TLS test makes its own."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "console.crt", directory / "console.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_over_tls_the_cookies_are_secure_and_browsers_are_told_to_stay_on_https(world, tls_console):
    console, cert = tls_console
    first = httpx.get(f"{console.url}/sign-in", verify=str(cert))
    assert "secure" in first.headers["set-cookie"].lower() and security.SIGN_IN_COOKIE in first.headers["set-cookie"]
    assert first.headers["strict-transport-security"].startswith("max-age=")
    http = signed_in_client(console.url, "hz_viewer", world.passwords["hz_viewer"], verify=str(cert))
    try:
        cookie = next(c for c in http.cookies.jar if c.name == sessions.COOKIE)
        assert cookie.secure
        assert http.get("/monitoring").status_code == 200
    finally:
        http.close()
