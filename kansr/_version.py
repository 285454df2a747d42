"""The version of kansr (read by setuptools and written into saved files)."""

__version__ = "0.1.0"
