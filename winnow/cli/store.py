"""``winnow store merge OTHER...``: fold stores that other machines filled into this one."""

from __future__ import annotations

from pathlib import Path

import typer

from winnow.cli.console import console
from winnow.config import get_settings

app = typer.Typer(help="Maintain the content-addressed feature store.", no_args_is_help=True)


@app.command("merge")
def merge(
    others: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, help="feature store files (features.sqlite) to merge"
    ),
) -> None:
    """Copy images, embeddings and sources from other stores into this data directory's store.

    One SQLite writer takes a few thousand images a second behind one driver; past that, let
    each node write its own store (its own WINNOW_DATA_DIR) and merge them here afterwards.
    Rows are keyed by content, so merging twice adds nothing.
    """
    from winnow.errors import StoreError
    from winnow.store.feature_store import FeatureStore

    settings = get_settings()
    with FeatureStore(settings.store_path) as store:
        for other in others:
            try:
                added = store.merge_from(other)
            except StoreError as exc:
                console.print(f"[red]error:[/red] {exc}", highlight=False)
                raise typer.Exit(1) from exc
            console.print(
                f"{other.name}: +{added['images']} images, +{added['embeddings']} embeddings, "
                f"+{added['sources']} sources",
                highlight=False,
            )
        console.print(f"store: {settings.store_path}", highlight=False)
