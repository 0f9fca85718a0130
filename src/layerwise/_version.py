"""The version of layerwise (its own module: the model-file format reads it without importing the package)."""

__version__ = "0.1.0"
