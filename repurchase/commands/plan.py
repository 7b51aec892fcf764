"""CLI commands of this topic (filled in by the topic's owner)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this topic's commands to the `repurchase` app."""
    del app
