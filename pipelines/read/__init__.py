"""Read stage: walk the input, sniff each file's format from its bytes, decode, split into records."""
