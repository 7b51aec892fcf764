"""The service's database: SQLAlchemy 2 models, Alembic migrations and repository functions.

SQLite (the embedded default, a file under ``Settings.home``) and PostgreSQL (when
``REPURCHASE_DATABASE_URL`` is a ``postgresql+psycopg://`` URL) behave the same: every
repository function is written against both dialects and tested on both.
"""

from serving.store.db import make_engine, make_session_factory, migrate

__all__ = ["make_engine", "make_session_factory", "migrate"]
