"""The ``dashpacks`` console script: inspect connectors and scaffold fixtures (never imported by the plugin)."""


class CliError(Exception):
    """A problem a command reports in one line and exits 2 for (bad name, unreadable file, refused write)."""
