"""Keys, and the encryption of account secrets at rest.

Every key the product uses is given by the environment in production, or generated once into
``$VTE_HOME/keys/`` with mode 0600 (shared by the workers of one VTE_HOME). Account secrets are encrypted
with the Fernet key ``VTE_SECRET_KEY`` / ``registry.key``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache

from cryptography.fernet import Fernet

from vte.config import Settings, get_settings


def local_key(settings: Settings, env_var: str, file_name: str, generate: Callable[[], bytes]) -> bytes:
    """The key in ``env_var``, else the one in ``$VTE_HOME/keys/<file_name>``, generated there on first use."""
    if env_key := os.environ.get(env_var):
        return env_key.encode()
    path = settings.keys_dir / file_name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(generate())
    return path.read_bytes().strip()


def _key(settings: Settings) -> bytes:
    return local_key(settings, "VTE_SECRET_KEY", "registry.key", Fernet.generate_key)


def encrypt(plaintext: str, settings: Settings | None = None) -> bytes:
    return Fernet(_key(settings or get_settings())).encrypt(plaintext.encode())


def decrypt(ciphertext: bytes, settings: Settings | None = None) -> str:
    return _decrypted(_key(settings or get_settings()), bytes(ciphertext))


@lru_cache(maxsize=65536)  # more than a country's accounts
def _decrypted(key: bytes, ciphertext: bytes) -> str:
    """The intake reads an account's secret for every request; a Fernet token under one key always decrypts to
    the same text, so each is decrypted once (a rotated secret is a new token)."""
    return Fernet(key).decrypt(ciphertext).decode()
