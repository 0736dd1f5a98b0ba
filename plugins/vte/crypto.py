"""Encryption of account secrets at rest.

The key is ``VTE_SECRET_KEY`` (production: given by the environment) or a Fernet key generated once
into ``$VTE_HOME/keys/registry.key`` with mode 0600.
"""

from __future__ import annotations

import os

from cryptography.fernet import Fernet

from vte.config import Settings, get_settings


def _key(settings: Settings) -> bytes:
    if env_key := os.environ.get("VTE_SECRET_KEY"):
        return env_key.encode()
    path = settings.keys_dir / "registry.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
    return path.read_bytes().strip()


def encrypt(plaintext: str, settings: Settings | None = None) -> bytes:
    return Fernet(_key(settings or get_settings())).encrypt(plaintext.encode())


def decrypt(ciphertext: bytes, settings: Settings | None = None) -> str:
    return Fernet(_key(settings or get_settings())).decrypt(bytes(ciphertext)).decode()
