"""The `opsconsole` subcommands, a module for each family; `opsconsole.cli` puts them together.

Each module adds its parsers with their handlers, and imports what a handler needs only when it
runs, so that `opsconsole --version` and `--help` stay instant.
"""
