"""index_log: the change feed of the in-memory listing catalogs; repos.tag_list: a repo's tags in one row

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_log",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("repos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tag_list", sa.Text(), nullable=False, server_default=""))
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "UPDATE repos SET tag_list = COALESCE((SELECT group_concat(tag, char(10)) FROM"
            " (SELECT tag FROM repo_tags t WHERE t.repo_id = repos.id ORDER BY t.id)), '')"
        )
    else:
        op.execute(
            "UPDATE repos SET tag_list = COALESCE((SELECT string_agg(tag, chr(10) ORDER BY t.id)"
            " FROM repo_tags t WHERE t.repo_id = repos.id), '')"
        )


def downgrade() -> None:
    with op.batch_alter_table("repos", schema=None) as batch_op:
        batch_op.drop_column("tag_list")
    op.drop_table("index_log")
