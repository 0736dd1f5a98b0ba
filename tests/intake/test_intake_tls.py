"""HTTPS served directly by ``vte serve --tls-cert --tls-key``, with a throw-away certificate."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import subprocess

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from intake_support import SERVER_ENV, payload, start_server, stop_server

from vte import client

pytestmark = pytest.mark.usefixtures("warehouse_url")


def self_signed(directory) -> tuple:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "intake.crt", directory / "intake.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def https_intake(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(directory)
    server = start_server(directory, env=SERVER_ENV, tls=(cert, key), verify=str(cert))
    yield server, cert
    stop_server(server)


def test_submissions_travel_over_https(https_intake, account):
    server, cert = https_intake
    assert server.url.startswith("https://")
    result = client.submit(server.url, account.access_key, account.access_secret, payload(), verify=cert)
    assert result["code"] == 0 and result["data"]["version"] == 1, result


def test_an_untrusted_certificate_is_not_talked_to(https_intake, account):
    server, _ = https_intake
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        client.submit(server.url, account.access_key, account.access_secret, payload())


def test_plain_http_to_the_https_port_gets_no_answer(https_intake):
    server, _ = https_intake
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url.replace("https://", "http://") + "/healthz", timeout=5)


def test_vte_submit_with_a_ca_file(https_intake, account, tmp_path):
    server, cert = https_intake
    good, bad = payload(days_ago=2), payload(days_ago=3, rows=[])
    jsonl = tmp_path / "submissions.jsonl"
    jsonl.write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in (good, bad)) + "\n", encoding="utf-8")
    run = subprocess.run(["vte", "submit", str(jsonl), "--key", account.access_key, "--url", server.url,
                          "--ca-file", str(cert)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "VTE_ACCESS_SECRET": account.access_secret})
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"1 {good['date']}: accepted submission") and "version 1" in lines[0]
    assert lines[1].startswith(f"2 {bad['date']}: refused 42201") and "data：上报数据不能为空" in run.stdout
