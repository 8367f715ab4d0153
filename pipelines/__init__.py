"""Turn folders of scraped Chinese news files into a typed Parquet dataset."""

__version__ = "0.1.0"

# Ctrl-C: the message (its exit code is in errors.py). Here, not in cli.py, because ``python -m pipelines``
# must be able to say it when the interrupt comes before cli.py is imported.
from pipelines.errors import EXIT_INTERRUPTED as EXIT_INTERRUPTED

INTERRUPTED_UNCHANGED = "interrupted: the published dataset is unchanged; rerun build to finish"
