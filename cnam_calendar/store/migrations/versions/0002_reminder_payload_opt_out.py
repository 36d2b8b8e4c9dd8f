"""Reminders: a learner can opt out of e-mails; each delivery row keeps its offset and e-mail payload.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("learners") as batch:
        # Stops the reminder e-mails only; the learner's feed stays.
        batch.add_column(sa.Column("opt_out", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("reminder_deliveries") as batch:
        batch.add_column(sa.Column("offset_days", sa.Integer(), nullable=True))  # J-n: the latest offset wins
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))  # JSON: what the e-mail needs
    # The siblings of a reminder (same learner and event) are read at every claim.
    op.create_index("ix_reminder_deliveries_learner_event", "reminder_deliveries", ["learner_id", "event_uid"])


def downgrade() -> None:
    op.drop_index("ix_reminder_deliveries_learner_event", table_name="reminder_deliveries")
    with op.batch_alter_table("reminder_deliveries") as batch:
        batch.drop_column("payload")
        batch.drop_column("offset_days")
    with op.batch_alter_table("learners") as batch:
        batch.drop_column("opt_out")
