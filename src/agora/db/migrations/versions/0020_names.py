"""repo_redirects: the old names of renamed or transferred repos; collection items that are papers or
collections (collection_items.paper_id, target_id; repo_id nullable); account_avatars

Revision ID: 0020
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0017"
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
    with op.batch_alter_table("collection_items") as b:
        b.alter_column("repo_id", existing_type=sa.Integer(), nullable=True)
        b.add_column(sa.Column("paper_id", sa.String(40), nullable=True))
        b.add_column(
            sa.Column(
                "target_id",
                sa.Integer(),
                sa.ForeignKey("collections.id", name="fk_collection_items_target", ondelete="CASCADE"),
                nullable=True,
            )
        )
        b.create_index("ix_collection_items_target_id", ["target_id"])
    op.create_table(
        "account_avatars",
        sa.Column(
            "account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_avatars")
    with op.batch_alter_table("collection_items") as b:
        b.drop_index("ix_collection_items_target_id")
        b.drop_constraint("fk_collection_items_target", type_="foreignkey")
        b.drop_column("target_id")
        b.drop_column("paper_id")
    op.drop_index("ix_repo_redirects_repo_id", "repo_redirects")
    op.drop_table("repo_redirects")
