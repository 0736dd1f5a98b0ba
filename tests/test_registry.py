"""The institution registry: refusals, and secrets never stored or logged in plain text."""

import json
import subprocess
import uuid

import pytest

from vte import crypto, registry


def _code() -> str:
    return "T" + uuid.uuid4().hex[:10]


def test_register_returns_credentials_and_stores_the_secret_encrypted(db, settings):
    code = _code()
    creds = registry.register(db, code=code, name="文成县人民医院", level="二级", county_code="330328")
    stored = db.execute(
        "select secret_ciphertext from registry.accounts where access_key = %s", (creds.access_key,)
    ).fetchone()[0]
    assert creds.access_secret.encode() not in bytes(stored)
    assert crypto.decrypt(stored, settings) == creds.access_secret
    assert creds.access_secret not in _all_text(db, "registry") + _all_text(db, "ops")


def _all_text(db, schema: str) -> str:
    """Every row of every table of a schema, as text (what a dump of it would hold)."""
    tables = [r[0] for r in db.execute("select tablename from pg_tables where schemaname = %s", (schema,))]
    return "\n".join(str(row) for t in tables for row in db.execute(f'select t::text from {schema}."{t}" as t'))


@pytest.mark.parametrize(
    ("county_code", "level", "message"),
    [
        ("339999", "二级", "not a known GB/T 2260 code"),
        ("330300", "二级", "not a county-level division"),
        ("330328", "一级", "is not one of 二级 / 三级"),
    ],
)
def test_bad_institutions_are_refused(db, county_code, level, message):
    code = _code()
    with pytest.raises(registry.RegistryError, match=message):
        registry.register(db, code=code, name="某医院", level=level, county_code=county_code)
    assert db.execute("select count(*) from registry.institutions where institution_code = %s", (code,)).fetchone()[0] == 0


def test_duplicate_institution_is_refused(db):
    code = _code()
    registry.register(db, code=code, name="甲医院", level="三级", county_code="330106")
    with pytest.raises(registry.RegistryError, match="already registered"):
        registry.register(db, code=code, name="乙医院", level="三级", county_code="330106")


def test_rotate_and_revoke(db, settings):
    creds = registry.register(db, code=_code(), name="丙医院", level="三级", county_code="330102")
    rotated = registry.rotate(db, creds.access_key, settings)
    assert rotated.access_key == creds.access_key and rotated.access_secret != creds.access_secret
    assert registry.account_statuses(db, settings)[creds.access_key].access_secret == rotated.access_secret
    registry.revoke(db, creds.access_key)
    assert registry.account_statuses(db, settings)[creds.access_key] is None
    with pytest.raises(registry.RegistryError, match="already revoked"):
        registry.revoke(db, creds.access_key)


def test_cli_create_prints_json_once_and_audit_has_no_secret(db, warehouse_url):
    code = _code()
    out = subprocess.run(
        ["vte", "accounts", "create", "--institution-code", code, "--name", "丁医院", "--region-code", "330328",
         "--level", "二级", "--community", "文成县医共体", "--json", "--override-sandbox", "--reason", "测试"],
        capture_output=True, text=True, check=True,
    ).stdout
    creds = json.loads(out)
    assert set(creds) == {"accessKey", "accessSecret", "institution_code"} and creds["institution_code"] == code
    assert creds["accessSecret"] not in _all_text(db, "registry") + _all_text(db, "ops")
    refused = subprocess.run(
        ["vte", "accounts", "create", "--institution-code", _code(), "--name", "x", "--region-code", "999999",
         "--level", "二级", "--override-sandbox", "--reason", "测试"], capture_output=True, text=True,
    )
    assert refused.returncode == 2 and "999999" in refused.stderr


def test_cli_warehouse_url_works_with_psql(warehouse_url):
    url = subprocess.run(["vte", "warehouse", "url"], capture_output=True, text=True, check=True).stdout.strip()
    out = subprocess.run(["psql", url, "-tAc", "select 1"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"
