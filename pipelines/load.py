"""Helpers for the common joins. Plain pandas; the Parquet folders load without them too.

``dataset`` may also be the URL of a dataset published with ``build --dataset s3://bucket/prefix``:
the helpers then read the snapshot that ``current.json`` names (see ``pipelines.publish.remote``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def _read(dataset: str | Path, table: str, columns: list[str] | None = None) -> pd.DataFrame:
    """One table of a dataset folder, or of a dataset published at a URL (s3://, gs://, file://)."""
    from pipelines.read.remote import is_url

    if is_url(dataset):
        from pipelines.publish.remote import read_table

        return read_table(str(dataset), table, columns).to_pandas()
    return pd.read_parquet(Path(dataset) / table, columns=columns)


def articles(dataset: str | Path = "dataset", columns: list[str] | None = None) -> pd.DataFrame:
    return _read(dataset, "articles", columns)


def unique_stories(dataset: str | Path = "dataset", columns: list[str] | None = None) -> pd.DataFrame:
    """Articles that are not copies of an earlier one (duplicate_of is null)."""
    cols = None if columns is None else sorted(set(columns) | {"duplicate_of"})
    df = _read(dataset, "articles", cols)
    df = df[df["duplicate_of"].isna()]
    return df if columns is None else df[columns]


def articles_with_mentions(dataset: str | Path = "dataset", article_columns: list[str] | None = None) -> pd.DataFrame:
    """One row per agency mention, with the article's columns beside it."""
    cols = article_columns or ["article_id", "title", "published_at", "outlet", "province", "prefecture", "county", "duplicate_of"]
    if "article_id" not in cols:
        cols = ["article_id", *cols]
    arts = _read(dataset, "articles", cols)
    mentions = _read(dataset, "agency_mentions")
    return mentions.merge(arts, on="article_id", how="left", validate="many_to_one")
