"""neumelt: decide how LLM agents should be deployed.

The ``neumelt`` package is the ground every other package stands on: config loading with
clear errors (:mod:`neumelt.config`, :mod:`neumelt.errors`), the SQLite results store
(:mod:`neumelt.store`, :mod:`neumelt.runs`), output formatting (:mod:`neumelt.output`) and
argument types (:mod:`neumelt.argtypes`); these import no other package of ours. The
command line and the demo sit on top of everything in :mod:`neumelt.app` (not imported
here).
"""

__version__ = "0.1.0"
