"""The ``prompthouse`` command line."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console

from prompthouse._version import __version__
from prompthouse.errors import PromptHouseError

app = typer.Typer(help="prompthouse: a self-hosted prompt registry.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")

err = Console(stderr=True)

StoreOption = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
    typer.Option(
        "--store",
        envvar="PROMPTHOUSE_STORE_URI",
        help="Store URI: sqlite:///path.db (default ./prompthouse.db) or postgresql://...",
        show_default=False,
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"prompthouse {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
) -> None:
    """prompthouse: a self-hosted prompt registry."""


@db_app.command("upgrade")
def db_upgrade(store: StoreOption = None) -> None:
    """Apply pending schema migrations to the store (safe to run at any time)."""
    from prompthouse.settings import load_settings
    from prompthouse.stores.sql import SqlStore, upgrade_schema

    try:
        settings = load_settings(store_uri=store)
        sql = SqlStore(settings.store_uri, migrate=False)
        try:
            previous = upgrade_schema(sql._engine)
        finally:
            sql.close()
    except PromptHouseError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    if previous is None:
        typer.echo(f"{sql.uri}: schema is up to date.")
    else:
        typer.echo(f"{sql.uri}: upgraded the schema (from {previous}).")


def run() -> None:
    app()
