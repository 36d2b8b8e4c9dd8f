"""Learners, feed token hashes, the store's secret and the reminder delivery table.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learners",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("centre", sa.String(64), nullable=False),
        sa.Column("department", sa.String(3), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("ues", sa.Text(), nullable=False, server_default=""),
        sa.Column("dossier_received", sa.Date(), nullable=True),
        sa.Column("cpf_validated", sa.Date(), nullable=True),
        sa.Column("training_start", sa.Date(), nullable=True),
        sa.Column("lang", sa.String(2), nullable=False, server_default="fr"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_learners"),
    )
    op.create_index("ix_learners_centre", "learners", ["centre"])
    op.create_table(
        "feed_tokens",
        sa.Column("learner_id", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("learner_id", name="pk_feed_tokens"),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], name="fk_feed_tokens_learner_id_learners",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("token_hash", name="uq_feed_tokens_token_hash"),
    )
    settings = op.create_table(
        "store_settings",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_store_settings"),
    )
    # The HMAC key behind learner_key(): drawn once per database, so personal UIDs stay stable.
    op.bulk_insert(settings, [{"name": "learner_key_secret", "value": secrets.token_hex(32)}])
    op.create_table(
        "reminder_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("learner_id", sa.String(64), nullable=False),
        sa.Column("event_uid", sa.String(255), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reminder_deliveries"),
        sa.UniqueConstraint("key", name="uq_reminder_deliveries_key"),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], name="fk_reminder_deliveries_learner_id_learners",
                                ondelete="CASCADE"),
    )
    op.create_index("ix_reminder_deliveries_status_due_at", "reminder_deliveries", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_reminder_deliveries_status_due_at", table_name="reminder_deliveries")
    op.drop_table("reminder_deliveries")
    op.drop_table("store_settings")
    op.drop_table("feed_tokens")
    op.drop_index("ix_learners_centre", table_name="learners")
    op.drop_table("learners")
