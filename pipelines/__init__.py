"""Turn folders of scraped Chinese news files into a typed Parquet dataset."""

__version__ = "0.1.0"
