#!/usr/bin/env python3
"""Fill deploy/production.env.example into deploy/production.env: fresh passwords and keys, the topology.

    python3 deploy/fill_env.py                      # compose's topology, writes deploy/production.env
    python3 deploy/fill_env.py --out other.env --warehouse-host db.example.org --secrets-dir /etc/vte/tls

Every ``<password:NAME>`` gets one new password (the same wherever NAME repeats), ``<fernet-key:NAME>`` a
Fernet key, ``<secret:NAME>`` a random token; the host, port and directory placeholders get the options'
values (defaults: the compose services and Docker's secrets directory). The file is written with mode 0600
and never overwritten: new secrets would lock out the accounts encrypted with the old key.

tests/deploy runs this same code with 127.0.0.1, free ports and its own certificates: compose's services
and the test read one template. Standard library only, so it runs before the virtual environment exists.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "production.env.example"
PLACEHOLDER = re.compile(r"<([a-z][a-z-]*)(?::([a-z][a-z-]*))?>")

TOPOLOGY_DEFAULTS = {
    "warehouse-host": "postgres",
    "warehouse-port": "5432",
    "airflow-api-host": "airflow-api-server",
    "airflow-api-port": "8080",
    "redis-host": "redis",
    "redis-port": "6379",
    "secrets-dir": "/run/secrets",
}


def _generated(kind: str) -> str:
    if kind == "password":
        # URL-safe: it also stands inside SQLAlchemy's URL; never `$`, which some compose versions expand.
        return secrets.token_urlsafe(24)
    if kind == "fernet-key":
        return base64.urlsafe_b64encode(os.urandom(32)).decode()  # what Fernet.generate_key() returns
    if kind == "secret":
        return secrets.token_hex(32)
    raise KeyError(kind)


def fill(template: str, topology: dict[str, str] | None = None) -> str:
    """The template with every placeholder replaced; raises ValueError naming any it does not know."""
    topology = TOPOLOGY_DEFAULTS | (topology or {})
    generated: dict[tuple[str, str], str] = {}
    unknown: set[str] = set()

    def value(match: re.Match) -> str:
        kind, name = match.group(1), match.group(2)
        if name is None:
            if kind in topology:
                return str(topology[kind])
        else:
            try:
                return generated.setdefault((kind, name), _generated(kind))
            except KeyError:
                pass
        unknown.add(match.group(0))
        return match.group(0)

    lines = []
    for line in template.splitlines():
        lines.append(line if line.lstrip().startswith("#") else PLACEHOLDER.sub(value, line))
    if unknown:
        raise ValueError(f"unknown placeholders in the template: {', '.join(sorted(unknown))}")
    return "\n".join(lines) + "\n"


def write(out: Path, text: str) -> None:
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--out", type=Path, default=HERE / "production.env")
    for key, default in TOPOLOGY_DEFAULTS.items():
        parser.add_argument(f"--{key}", default=default, help=f"default: {default}")
    args = parser.parse_args(argv)
    if args.out.exists():
        print(f"error: {args.out} exists; it holds the deployment's secrets and is never overwritten", file=sys.stderr)
        return 1
    topology = {key: getattr(args, key.replace("-", "_")) for key in TOPOLOGY_DEFAULTS}
    try:
        text = fill(args.template.read_text(encoding="utf-8"), topology)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write(args.out, text)
    print(f"wrote {args.out} (mode 0600); keep it out of version control")
    return 0


if __name__ == "__main__":
    sys.exit(main())
