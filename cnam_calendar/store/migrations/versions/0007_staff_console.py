"""The staff console: local accounts, roles per centre, failed sign-ins, the audit journal, the session key.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-02

An account signs in with its password (argon2 hash) or through a trusted proxy (no password: the
hash is NULL); ``generation`` is written into the session cookie, so a reset or a removal ends the
sessions already open. Failed sign-ins are rows (one per failure, per account and per address), so the
rate limit holds across workers. The audit journal is append-only.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email", name="pk_staff_accounts"),
    )
    op.create_table(
        "staff_roles",
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("centre", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("email", "centre", name="pk_staff_roles"),
        sa.ForeignKeyConstraint(["email"], ["staff_accounts.email"], name="fk_staff_roles_email_staff_accounts",
                                ondelete="CASCADE"),
    )
    op.create_table(
        "staff_sign_in_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_staff_sign_in_failures"),
    )
    op.create_index("ix_staff_sign_in_failures_key_at", "staff_sign_in_failures", ["key", "at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.String(254), nullable=False),
        sa.Column("centre", sa.String(64), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("file", sa.Text(), nullable=False, server_default=""),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    settings = sa.table("store_settings", sa.column("name", sa.String), sa.column("value", sa.Text))
    # The key that signs the console's session cookies: drawn once per database, shared by every worker.
    op.bulk_insert(settings, [{"name": "admin_session_secret", "value": secrets.token_hex(32)}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM store_settings WHERE name = 'admin_session_secret'"))
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_staff_sign_in_failures_key_at", table_name="staff_sign_in_failures")
    op.drop_table("staff_sign_in_failures")
    op.drop_table("staff_roles")
    op.drop_table("staff_accounts")
