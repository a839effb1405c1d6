"""Xet storage formats: hashing, xorbs, shards and file reconstruction (no DB, no HTTP)."""
