"""The link key: what lets every e-mail carry the learner's page link while the store keeps only hashes.

A feed token is never stored, only its SHA-256, so a stolen copy of the database opens no page and
no feed. The daemon, which writes reminders long after the token was issued, could then not put
the learner's page link in them. With a link key (a secret kept outside the database, in a file
only the service reads), a token is derived instead of drawn:
``token = base64url(HMAC-SHA256(key, "me\\0" + learner id + "\\0" + nonce))``, and the random nonce
is stored beside the hash (``feed_tokens.link_nonce``). Whoever has the key and the database can
recompute a learner's current token; the database alone still gives nothing. « Nouveau lien »
draws a new nonce: the old page and feed stop working, as before.

Without a key (no file), tokens are drawn at random as before and e-mails carry no page link.
The key file holds 64 hexadecimal digits; ``cnam-calendar init`` creates it (mode 0600). Its place:
``[links] key_file`` (``--link-key-file``, ``CNAM_CALENDAR_LINK_KEY_FILE``), else beside a SQLite
store (``cnam-calendar.db`` → ``cnam-calendar.key``); a server store (PostgreSQL) has no default.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import string
from pathlib import Path

from cnam_calendar.rules.errors import ConfigError

KEY_ENV = "CNAM_CALENDAR_LINK_KEY_FILE"
KEY_BYTES = 32
_HINT = ("attendu : 64 chiffres hexadécimaux sur une ligne, le fichier créé par cnam-calendar init ; sinon "
         "supprimez-le et relancez init (les liens déjà envoyés cesseront alors de fonctionner)")


def derive_token(key: bytes, learner_id: str, nonce: str) -> str:
    """Return the feed token of ``learner_id`` for ``nonce`` under ``key`` (43 URL-safe characters)."""
    mac = hmac.new(key, b"me\0" + learner_id.encode("utf-8") + b"\0" + nonce.encode("ascii"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def new_nonce() -> str:
    """Return a fresh nonce (128 random bits, hexadecimal): one per token issued."""
    return secrets.token_hex(16)


def default_key_file(db: str) -> Path | None:
    """Return where the key of store ``db`` is by default: beside a SQLite file, none for a server's URL."""
    if "://" in db:
        prefix = "sqlite:///"
        if not db.startswith(prefix) or db[len(prefix):] in ("", ":memory:"):
            return None
        db = db[len(prefix):]
    return Path(db).expanduser().with_suffix(".key")


def read_key(path: str | Path | None) -> bytes | None:
    """Return the key in the file ``path``, None when there is no such file; ConfigError when it is not a key."""
    if path is None:
        return None
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigError("c'est un dossier, pas le fichier de la clé des liens", where=str(path), hint=_HINT) from None
    except PermissionError:
        raise ConfigError("clé des liens illisible : accès refusé", where=str(path),
                          hint="le service doit pouvoir lire ce fichier : créez-le sous son compte "
                               "(sudo -u cnam-calendar cnam-calendar init) ou donnez-le-lui (chown)") from None
    except OSError as exc:
        raise ConfigError(f"clé des liens illisible (erreur {exc.errno})", where=str(path),
                          hint="vérifiez le chemin et les droits : le service doit pouvoir lire ce fichier") from None
    text = raw.decode("ascii", errors="replace").strip()
    if len(text) != 2 * KEY_BYTES or any(c not in string.hexdigits for c in text):
        raise ConfigError("ce fichier n'est pas une clé des liens", where=str(path), hint=_HINT)
    return bytes.fromhex(text)


def create_key(path: str | Path) -> bool:
    """Create a new key file at ``path`` (mode 0600); False when a file is already there (left as is)."""
    path = Path(path).expanduser()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except PermissionError:
        raise ConfigError("clé des liens impossible à créer : accès refusé", where=str(path),
                          hint="lancez init sous le compte du service (sudo -u cnam-calendar cnam-calendar init), "
                               "dans un dossier où il peut écrire") from None
    except OSError as exc:
        raise ConfigError(f"clé des liens impossible à créer (erreur {exc.errno})", where=str(path),
                          hint="attendu : un dossier existant où le service peut écrire "
                               f"(--link-key-file, {KEY_ENV})") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(KEY_BYTES) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return True


__all__ = ["KEY_ENV", "create_key", "default_key_file", "derive_token", "new_nonce", "read_key"]
