"""The maintainer's tools: ``python -m attnhw.tools --help``."""
