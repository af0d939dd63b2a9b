"""The registry: prompts, their versions, tags and aliases.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(255)),
        sa.Column("next_version", sa.Integer, nullable=False, server_default="1"),
        sa.UniqueConstraint("name", name="uq_prompts_name"),
    )
    op.create_index("ix_prompts_updated_at", "prompts", ["updated_at", "id"])
    op.create_table(
        "prompt_tags",
        sa.Column("prompt_id", sa.Integer, sa.ForeignKey("prompts.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("ix_prompt_tags_key_value", "prompt_tags", ["key", "prompt_id"])
    op.create_table(
        "prompt_versions",
        sa.Column("prompt_id", sa.Integer, sa.ForeignKey("prompts.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("template_type", sa.String(8), nullable=False),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("commit_message", sa.Text),
        sa.Column("model_config", sa.Text),
        sa.Column("response_format", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(255)),
        sa.Column("deleted_at", sa.BigInteger),
        sa.CheckConstraint("template_type IN ('text', 'chat')", name="ck_versions_type"),
    )
    op.create_table(
        "version_tags",
        sa.Column("prompt_id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id", "version"],
            ["prompt_versions.prompt_id", "prompt_versions.version"],
            ondelete="CASCADE",
            name="fk_version_tags_version",
        ),
    )
    op.create_table(
        "aliases",
        sa.Column("prompt_id", sa.Integer, primary_key=True),
        sa.Column("alias", sa.String(255), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(255)),
        sa.ForeignKeyConstraint(
            ["prompt_id", "version"],
            ["prompt_versions.prompt_id", "prompt_versions.version"],
            ondelete="CASCADE",
            name="fk_aliases_version",
        ),
    )
    op.create_index("ix_aliases_version", "aliases", ["prompt_id", "version"])
    op.create_index("ix_aliases_alias", "aliases", ["alias", "prompt_id"])


def downgrade() -> None:
    op.drop_table("aliases")
    op.drop_table("version_tags")
    op.drop_table("prompt_versions")
    op.drop_table("prompt_tags")
    op.drop_table("prompts")
