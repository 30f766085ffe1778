"""The token signing key: configured, or generated once and kept in the data directory."""

from __future__ import annotations

import os
import secrets

from callcenter.settings import Settings


def resolve_secret_key(settings: Settings) -> str:
    if settings.auth.secret_key is not None:
        return settings.auth.secret_key.get_secret_value()
    path = settings.data_dir / "secret_key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
