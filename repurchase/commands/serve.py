"""`repurchase serve`: run the HTTP API with uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from features.errors import InputError
from repurchase.cli_support import exits_cleanly
from repurchase.settings import get_settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@exits_cleanly
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port to listen on.")] = 8000,
    policy: Annotated[
        Path | None,
        typer.Option(help="Contact policy TOML (default: the built-in policy).", exists=True),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs). API keys come from REPURCHASE_API_KEYS."""
    import uvicorn

    from serving.api.app import create_app

    settings = get_settings()
    if not settings.api_keys.strip() and host not in LOOPBACK:
        raise InputError(
            f"refusing to serve on {host} without API keys: demo mode is for loopback only"
        )
    app = create_app(settings, policy_path=policy)
    typer.echo(f"serving on http://{host}:{port} (docs at /docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


def register(app: typer.Typer) -> None:
    """Add `serve` to the `repurchase` app."""
    app.command("serve")(serve)
