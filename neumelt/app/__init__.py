"""The application layer: the ``neumelt`` command line (:mod:`neumelt.app.cli`), which
registers every package's subcommands, the ``runs`` commands and the end-to-end demo.

It sits on top of everything: it may import any package, and nothing imports it except
``neumelt.__main__`` (``python -m neumelt``) and the ``neumelt`` console script.
"""
