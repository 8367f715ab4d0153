"""Helpers for the common joins. Plain pandas; the Parquet folders load without them too."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def articles(dataset: str | Path = "dataset", columns: list[str] | None = None) -> pd.DataFrame:
    return pd.read_parquet(Path(dataset) / "articles", columns=columns)


def unique_stories(dataset: str | Path = "dataset", columns: list[str] | None = None) -> pd.DataFrame:
    """Articles that are not copies of an earlier one (duplicate_of is null)."""
    cols = None if columns is None else sorted(set(columns) | {"duplicate_of"})
    df = pd.read_parquet(Path(dataset) / "articles", columns=cols)
    df = df[df["duplicate_of"].isna()]
    return df if columns is None else df[columns]


def articles_with_mentions(dataset: str | Path = "dataset", article_columns: list[str] | None = None) -> pd.DataFrame:
    """One row per agency mention, with the article's columns beside it."""
    cols = article_columns or ["article_id", "title", "published_at", "outlet", "province", "prefecture", "county", "duplicate_of"]
    if "article_id" not in cols:
        cols = ["article_id", *cols]
    arts = pd.read_parquet(Path(dataset) / "articles", columns=cols)
    mentions = pd.read_parquet(Path(dataset) / "agency_mentions")
    return mentions.merge(arts, on="article_id", how="left", validate="many_to_one")
