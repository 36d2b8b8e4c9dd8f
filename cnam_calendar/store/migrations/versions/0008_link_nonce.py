"""Page links in every e-mail: the nonce a feed token was derived from (store/links.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

NULL for a token drawn at random (no link key, or issued before this revision): that learner's
e-mails carry no page link until their link is renewed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed_tokens") as batch:
        batch.add_column(sa.Column("link_nonce", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feed_tokens") as batch:
        batch.drop_column("link_nonce")
