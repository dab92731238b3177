"""Errors a user can act on.

Every error the zoo raises for bad input is a :class:`ZooError`: the CLI prints its
one-line message (plus the hint) and exits non-zero without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ZooError(Exception):
    """A problem the user can fix; ``str()`` is a one-line message naming the fix."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} ({hint})" if hint else message)


class UnknownModelError(ZooError, KeyError):
    """A model, weight tag or architecture name that is not in the catalog."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return Exception.__str__(self)


class RegistryError(ZooError):
    """A registry.toml file that does not follow the schema."""


class ConfigError(ZooError, ValueError):
    """A hyper-parameter or training option that is unknown or out of range."""


class DataError(ZooError, ValueError):
    """Input data that does not fit the model (shape, dtype, columns, empty folder)."""


class PluginError(ZooError):
    """A plugin that failed to load, or that broke the hook contract."""


class PluginHookError(PluginError):
    """An exception raised by a plugin's code (a hook, or code a hook handed to the zoo),
    as one line naming the plugin and the hook; the original is ``original`` (and
    ``__cause__``), its traceback shown by ``zoo --debug`` / ``ZOO_DEBUG=1``."""

    def __init__(
        self,
        message: str,
        hint: str | None,
        *,
        plugin: str,
        hook: str | None,
        original: BaseException,
    ) -> None:
        super().__init__(message, hint)
        self.plugin = plugin
        self.hook = hook
        self.original = original


class ExportError(ZooError):
    """An export that could not be written or did not match the Keras model."""


class WeightsError(ZooError):
    """A weights file that is missing, corrupt or does not fit the model."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Return a ``did you mean 'x'?`` phrase for the closest candidate, if any."""
    matches = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.5)
    if not matches:
        return None
    return "did you mean " + " or ".join(f"'{m}'" for m in matches) + "?"
