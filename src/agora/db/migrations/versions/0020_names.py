"""repo_redirects: the old names of renamed or transferred repos

Revision ID: 0020
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repo_redirects",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("namespace_key", sa.String(96), nullable=False),
        sa.Column("name_key", sa.String(96), nullable=False),
        sa.Column("old_id", sa.String(200), nullable=False),
        sa.Column("repo_id", sa.Integer(), sa.ForeignKey("repos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("type", "namespace_key", "name_key"),
    )
    op.create_index("ix_repo_redirects_repo_id", "repo_redirects", ["repo_id"])


def downgrade() -> None:
    op.drop_index("ix_repo_redirects_repo_id", "repo_redirects")
    op.drop_table("repo_redirects")
