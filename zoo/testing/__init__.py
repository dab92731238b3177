"""The plugin conformance kit (public): ``check_plugin``, ``plugin_checks`` and their records.

See :mod:`zoo.testing.kit` for the list of checks.
"""

from zoo.testing.kit import check_plugin, collect_checks, plugin_checks
from zoo.testing.results import (
    EXPECTED_FAILURES_ATTR,
    MODEL_CHECKS,
    PLUGIN_CHECKS,
    Check,
    CheckFailed,
    CheckResult,
    CheckSkipped,
    ConformanceError,
    Report,
)

__all__ = [
    "Check",
    "CheckFailed",
    "CheckResult",
    "CheckSkipped",
    "ConformanceError",
    "EXPECTED_FAILURES_ATTR",
    "MODEL_CHECKS",
    "PLUGIN_CHECKS",
    "Report",
    "check_plugin",
    "collect_checks",
    "plugin_checks",
]
