"""attnhw's version: the package's, the generated files' and the VERSION register's.

A module of its own, below every layer (golden -> hdl -> sim -> tools), so that the gateware
can read it without importing the package's tools.
"""

__version__ = "0.1.0"
