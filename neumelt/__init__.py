"""neumelt: decide how LLM agents should be deployed.

The ``neumelt`` package is the front door: the CLI and what every package shares
(config loading with clear errors, the SQLite results store, output formatting).
"""

__version__ = "0.1.0"
