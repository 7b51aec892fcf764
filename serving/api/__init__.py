"""The HTTP API (FastAPI): `create_app(settings)` builds it; `repurchase serve` runs it."""
