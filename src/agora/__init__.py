"""Agora: a self-hosted Hub for models, datasets and Spaces."""

__version__ = "0.1.0"
