"""One exception family for everything a user can cause.

The CLI turns a `StackerError` into one line on stderr and its `exit_code`; anything else that
escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class StackerError(Exception):
    """A failure the user can act on; `str(error)` is the one line they see."""

    exit_code: int = 2


class ConfigError(StackerError):
    """stack.yaml (or another input file) is wrong; the message names `file:line`."""

    exit_code = 2


class UpstreamError(StackerError):
    """The upstream, a ref or a PR head could not be found or fetched."""

    exit_code = 2


class GitError(StackerError):
    """A git command failed in a way the user can act on."""

    exit_code = 2


class BusyError(StackerError):
    """Another stacker process holds the work directory's lock."""

    exit_code = 2


class BuildStopped(StackerError):
    """The build stopped on something it must not publish (a conflict, a failed check)."""

    exit_code = 1


class DeviceError(StackerError):
    """The GPU at hand is missing or is not the one the command was asked to validate."""

    exit_code = 2


class ValidationFailed(StackerError):
    """Validation ran and at least one case failed, errored or crashed."""

    exit_code = 1
