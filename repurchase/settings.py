"""Process-wide settings, read from the environment (prefix ``REPURCHASE_``) and ``.env``.

Nothing here runs at import time: call :func:`get_settings` where the program starts.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything that differs between a laptop demo and a production deployment."""

    model_config = SettingsConfigDict(env_prefix="REPURCHASE_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=Path("var"),
        description="Folder for the embedded SQLite database and generated files.",
    )
    config_file: Path | None = Field(
        default=None,
        description="TOML project config: column mapping, feature thresholds (see README).",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file under `home`."
    )
    database_statement_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="PostgreSQL: the longest one statement of the API server may run (say, "
        "waiting for another session's lock) before it is cancelled and the request answers "
        "503; 0 = no limit. Batch jobs have no limit.",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI; default: sqlite:///mlruns/mlflow.db."
    )
    mlflow_artifact_root: Path = Field(
        default=Path("mlruns/artifacts"),
        description="Artifact folder of the embedded MLflow store (ignored for a server).",
    )
    model_name: str = "repurchase"
    model_uri: str | None = Field(
        default=None, description="Model to serve/score; default models:/<model_name>@champion."
    )
    churn_days: int = Field(default=180, ge=7, le=730)
    api_keys: str = Field(
        default="", description="Comma-separated API keys; `key:admin` marks an admin key."
    )
    demo_mode: bool = Field(
        default=False, description="Allow the server to start without API keys (local demo)."
    )
    seed: int = 42
    rate_limit_per_minute: int = Field(
        default=6000,
        ge=0,
        description="Requests per minute allowed per API key (bursts up to 10 s worth); "
        "over it the API answers 429 with Retry-After. 0 turns the limit off.",
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted, in bytes (default 10 MiB); larger: 413.",
    )

    @field_validator("api_keys")
    @classmethod
    def _no_placeholder_keys(cls, value: str) -> str:
        for raw in value.split(","):
            key = raw.split(":", 1)[0].strip()
            if key.lower() in {"changeme", "change-me", "secret", "password"}:
                raise ValueError(f"API key {key!r} is a placeholder; set a real secret")
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'repurchase.db'}"

    @property
    def resolved_tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or "sqlite:///mlruns/mlflow.db"

    @property
    def resolved_model_uri(self) -> str:
        return self.model_uri or f"models:/{self.model_name}@champion"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached: the environment is read once)."""
    return Settings()
