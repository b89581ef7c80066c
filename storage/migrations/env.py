"""Alembic environment: runs on the connection SkillSpark hands over."""

from alembic import context

from storage.db import load_all_models
from storage.models import Base

load_all_models()

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - the project always passes one
    raise RuntimeError("Run migrations with 'skillspark db upgrade'.")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
