"""Per-session artifacts: content-addressed blobs plus a SQLite index under ``.llmspell/artifacts``."""

from llmspell.artifacts.store import ArtifactQuery, ArtifactStore, parse_artifact_type

__all__ = ["ArtifactQuery", "ArtifactStore", "parse_artifact_type"]
