"""Publish stage: immutable part files, snapshots, and an atomic swap of the current snapshot."""
