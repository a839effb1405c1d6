"""The domain: repos, accounts, discussions, collections, the listing index (no HTTP here)."""
