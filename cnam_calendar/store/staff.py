"""Staff accounts of the console: who they are, their role per centre, their password, failed sign-ins.

Passwords are hashed with argon2 (argon2-cffi's defaults, RFC 9106's second recommended profile);
an account without a hash signs in through the trusted proxy only. Roles are per centre: ``editor``
(will change the centre's files) or ``viewer``. Failed sign-ins are rows in the store, per account and
per address, so that the limit holds across the server's workers; the clock is the store's.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update

from cnam_calendar.rules.errors import StoreError
from cnam_calendar.store.database import (
    Store,
    settings_table,
    staff_accounts_table,
    staff_roles_table,
)
from cnam_calendar.store.database import staff_sign_in_failures_table as failures

ROLES = ("editor", "viewer")
ROLE_LABELS = {"editor": "éditeur", "viewer": "lecteur"}
ACCOUNT_LIMIT = 5  # failed sign-ins of one account within WINDOW before it is refused
ADDRESS_LIMIT = 20  # failed sign-ins from one address within WINDOW (several accounts tried)
WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 12  # characters
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
_HASHER = PasswordHasher()
# Verified when the account is unknown, so that a wrong e-mail costs as long as a wrong password.
_DUMMY = _HASHER.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class Member:
    """A staff account: its e-mail, its roles by centre, whether it has a local password."""

    email: str
    roles: Mapping[str, str] = field(default_factory=dict)
    has_password: bool = True
    generation: int = 1


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the member, or why not (``bad`` credentials, ``throttled``)."""

    member: Member | None
    refused: str | None = None  # "bad" | "throttled"
    retry_at: datetime | None = None  # throttled: when a try is allowed again


def normal_email(email: str) -> str:
    """Return the e-mail as stored: trimmed, lower case."""
    return email.strip().lower()


def valid_email(email: str) -> bool:
    """Tell whether ``email`` looks like an address (one @, a dotted domain, no space)."""
    return bool(_EMAIL.fullmatch(normal_email(email))) and len(email) <= 254


def password_problem(password: str) -> str | None:
    """Return what is wrong with a new password, or None."""
    if len(password) < MIN_PASSWORD:
        return f"mot de passe trop court ({len(password)} caractères ; attendu : au moins {MIN_PASSWORD})"
    return None


def hash_password(password: str) -> str:
    """Return the argon2 hash of ``password``."""
    return _HASHER.hash(password)


def _roles(conn: Any, email: str) -> dict[str, str]:
    rows = conn.execute(select(staff_roles_table.c.centre, staff_roles_table.c.role)
                        .where(staff_roles_table.c.email == email).order_by(staff_roles_table.c.centre))
    return {row.centre: row.role for row in rows}


def member(store: Store, email: str) -> Member | None:
    """Return the staff member with this e-mail, or None."""
    email = normal_email(email)
    with store._errors("lecture d'un compte"), store.engine.connect() as conn:
        row = conn.execute(select(staff_accounts_table).where(staff_accounts_table.c.email == email)).first()
        if row is None:
            return None
        return Member(row.email, _roles(conn, email), row.password_hash is not None, row.generation)


def members(store: Store) -> list[Member]:
    """Return every staff member, by e-mail."""
    with store._errors("lecture des comptes"), store.engine.connect() as conn:
        accounts = conn.execute(select(staff_accounts_table).order_by(staff_accounts_table.c.email)).all()
        roles: dict[str, dict[str, str]] = {}
        for row in conn.execute(select(staff_roles_table).order_by(staff_roles_table.c.centre)):
            roles.setdefault(row.email, {})[row.centre] = row.role
    return [Member(a.email, roles.get(a.email, {}), a.password_hash is not None, a.generation) for a in accounts]


def add(store: Store, email: str, centre: str, role: str, password_hash: str | None = None) -> tuple[str | None, str]:
    """Give ``email`` ``role`` at ``centre``, creating the account (with ``password_hash``) if needed.

    Return (the role before, or None; the role now).
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    email, now = normal_email(email), store.clock()
    with store._write("ajout d'un compte") as conn:
        exists = conn.scalar(select(staff_accounts_table.c.email).where(staff_accounts_table.c.email == email))
        if exists is None:
            conn.execute(insert(staff_accounts_table), {"email": email, "password_hash": password_hash,
                                                        "created_at": now, "updated_at": now})
        before = _roles(conn, email).get(centre)
        if before is None:
            conn.execute(insert(staff_roles_table), {"email": email, "centre": centre, "role": role})
        elif before != role:
            conn.execute(update(staff_roles_table).where(staff_roles_table.c.email == email,
                                                         staff_roles_table.c.centre == centre).values(role=role))
    return before, role


def unknown_account(store: Store, email: str) -> StoreError:
    """Return the error for an e-mail no account has."""
    return StoreError(f"compte inconnu « {email} »", where=store.url,
                      hint="la liste : cnam-calendar staff list ; pour le créer : cnam-calendar staff add")


def reset(store: Store, email: str, password_hash: str) -> None:
    """Set a new password for ``email``; the sessions it had open end (a new generation)."""
    email = normal_email(email)
    with store._write("changement du mot de passe") as conn:
        result = conn.execute(update(staff_accounts_table).where(staff_accounts_table.c.email == email).values(
            password_hash=password_hash, generation=staff_accounts_table.c.generation + 1, updated_at=store.clock()))
        if (result.rowcount or 0) != 1:
            raise unknown_account(store, email)
        conn.execute(delete(failures).where(failures.c.key == _account_key(email)))


def remove(store: Store, email: str, centre: str | None = None) -> dict[str, str]:
    """Remove the account (or only its role at ``centre``); return the roles removed."""
    email = normal_email(email)
    with store._write("suppression d'un compte") as conn:
        roles = _roles(conn, email)
        if conn.scalar(select(staff_accounts_table.c.email).where(staff_accounts_table.c.email == email)) is None:
            raise unknown_account(store, email)
        if centre is None:
            conn.execute(delete(staff_roles_table).where(staff_roles_table.c.email == email))
            conn.execute(delete(staff_accounts_table).where(staff_accounts_table.c.email == email))
            return roles
        if centre not in roles:
            raise StoreError(f"« {email} » n'a pas de rôle au centre {centre}", where=store.url,
                             hint=f"ses centres : {', '.join(roles) or 'aucun'}")
        conn.execute(delete(staff_roles_table).where(staff_roles_table.c.email == email,
                                                     staff_roles_table.c.centre == centre))
        # the account stays (its other roles, or none until `staff add` gives it one again): it ends its sessions
        conn.execute(update(staff_accounts_table).where(staff_accounts_table.c.email == email).values(
            generation=staff_accounts_table.c.generation + 1, updated_at=store.clock()))
        return {centre: roles[centre]}


def _account_key(email: str) -> str:
    return f"account:{email}"


def _address_key(address: str) -> str:
    return f"address:{address}"


def _retry_at(conn: Any, key: str, limit: int, now: datetime) -> datetime | None:
    """Return when ``key`` may try again if it failed ``limit`` times within WINDOW, else None."""
    times = conn.execute(select(failures.c.at).where(failures.c.key == key, failures.c.at > now - WINDOW)
                         .order_by(failures.c.at.desc()).limit(limit)).scalars().all()
    if len(times) < limit:
        return None
    return times[-1] + WINDOW  # the oldest of the last LIMIT failures leaves the window then


def sign_in(store: Store, email: str, password: str, address: str) -> SignIn:
    """Check a local sign-in from ``address``, counting a failure against the account and the address."""
    email, now = normal_email(email), store.clock()
    keys = ((_account_key(email), ACCOUNT_LIMIT), (_address_key(address), ADDRESS_LIMIT))
    with store._errors("connexion"), store.engine.connect() as conn:
        waits = [t for key, limit in keys if (t := _retry_at(conn, key, limit, now)) is not None]
        if waits:
            return SignIn(None, "throttled", max(waits))
        row = conn.execute(select(staff_accounts_table).where(staff_accounts_table.c.email == email)).first()
    ok = False
    try:
        ok = _HASHER.verify(row.password_hash if row is not None and row.password_hash else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if ok and row is not None and row.password_hash:
        found = member(store, email)
        if found is not None:
            return SignIn(found)
    with store._write("connexion") as conn:
        conn.execute(insert(failures), [{"key": key, "at": now} for key, _ in keys])
        conn.execute(delete(failures).where(failures.c.at <= now - WINDOW))  # what no longer counts
    return SignIn(None, "bad")


def failures_count(store: Store, email: str) -> int:
    """Return the failed sign-ins of ``email`` still counted (within WINDOW)."""
    now = store.clock()
    with store._errors("lecture des échecs de connexion"), store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(failures).where(
            failures.c.key == _account_key(normal_email(email)), failures.c.at > now - WINDOW)) or 0)


def session_secret(store: Store) -> bytes:
    """Return the key that signs the console's session cookies (drawn once per database by migration 0007)."""
    with store._errors("lecture de la clé des sessions"), store.engine.connect() as conn:
        value = conn.scalar(select(settings_table.c.value).where(settings_table.c.name == "admin_session_secret"))
    if value is None:
        raise StoreError("clé des sessions absente de la base", where=store.url,
                         hint="la base n'a pas été créée par cnam-calendar ; utilisez une base neuve")
    return value.encode("ascii")


def may(roles: Mapping[str, str], centre: str, action: str) -> bool:
    """Tell whether someone with ``roles`` may ``see`` or ``edit`` the centre."""
    role = roles.get(centre)
    if action == "see":
        return role in ROLES
    if action == "edit":
        return role == "editor"
    raise ValueError(f"unknown action {action!r}: expected see or edit")
