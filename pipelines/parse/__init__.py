"""Parse stage: turn decoded text of one record into article fields."""
