"""SkillSpark storage: SQLAlchemy 2 models, sessions, repositories, migrations."""
