"""Conformance check records: a check, its result, the report, and the error."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import PluginError, ZooError

EXPECTED_FAILURES_ATTR = "ZOO_EXPECTED_FAILURES"
PLUGIN_CHECKS = ("registry", "hparam_defaults", "no_tensorflow_on_import", "hooks")
MODEL_CHECKS = ("build", "hparam_values", "dataset", "train_steps", "save_load")
STATUSES = ("passed", "failed", "xfail", "skipped")


class ConformanceError(PluginError):
    """A plugin failed one or more conformance checks; ``report`` has every result."""

    def __init__(self, report: Report) -> None:
        failed = report.failed
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        super().__init__(
            f"plugin '{report.plugin}' fails check '{first.name}': {first.message}{more}",
            "`zoo check-plugin " + report.plugin + "` lists every check",
        )
        self.report = report


class CheckSkipped(Exception):
    """Raised inside a check that cannot run here (an optional runtime is missing)."""


class CheckFailed(Exception):
    """Raised inside a check with the one-line reason it failed."""


@dataclass
class CheckResult:
    """The outcome of one check: ``passed``, ``failed``, ``xfail`` or ``skipped``."""

    name: str
    status: str
    message: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        text = f"{self.status:<8} {self.name}"
        return f"{text}: {self.message}" if self.message else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Report:
    """Every check result for one plugin; ``ok`` when none failed."""

    plugin: str
    models: list[str]
    results: list[CheckResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def result(self, name: str) -> CheckResult:
        """The result of check ``name`` (KeyError if it was not run)."""
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def summary(self) -> str:
        counts = {s: sum(r.status == s for r in self.results) for s in STATUSES}
        parts = [f"{n} {s}" for s, n in counts.items() if n]
        return f"{len(self.results)} checks: " + ", ".join(parts)

    def __str__(self) -> str:
        return "\n".join([*(r.line() for r in self.results), self.summary()])

    def to_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "models": list(self.models),
            "ok": self.ok,
            "results": [r.to_dict() for r in self.results],
        }

    def raise_for_failures(self) -> None:
        if not self.ok:
            raise ConformanceError(self)


@dataclass
class Check:
    """One named check, callable from pytest (``check()``) or run for a result (``run()``)."""

    name: str
    func: Callable[[], str | None]
    expected_failure: str | None = None  # reason, from ZOO_EXPECTED_FAILURES
    unsupported: str | None = None  # reason, from registry unsupported_formats: not run

    def run(self) -> CheckResult:
        started = time.perf_counter()
        if self.unsupported is not None:
            return CheckResult(self.name, "xfail", self.unsupported)
        try:
            message = self.func() or ""
            status = "passed"
        except CheckSkipped as exc:
            message, status = str(exc), "skipped"
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line
            message, status = one_line(exc), "failed"
        if self.expected_failure is not None:
            if status == "failed":
                message = f"{self.expected_failure} (failed as expected: {message})"
                status = "xfail"
            elif status == "passed":
                message, status = (
                    f"passes but is listed in {EXPECTED_FAILURES_ATTR}; remove "
                    f"'{self.name}' from it",
                    "failed",
                )
        return CheckResult(self.name, status, message, time.perf_counter() - started)

    def __call__(self) -> None:
        """Run the check under pytest: a failure is one line, not a traceback."""
        import pytest

        __tracebackhide__ = True
        result = self.run()
        if result.status == "failed":
            pytest.fail(f"check '{self.name}' failed: {result.message}", pytrace=False)
        elif result.status == "skipped":
            pytest.skip(result.message)
        elif result.status == "xfail":
            pytest.xfail(result.message)

    def __repr__(self) -> str:
        return self.name


def one_line(exc: BaseException) -> str:
    """A one-line description of ``exc``: the ZooError message, else type and first line."""
    if isinstance(exc, (CheckFailed, ZooError)):
        text = str(exc)
    else:
        first = str(exc).strip().splitlines()
        text = f"{type(exc).__name__}: {first[0] if first else ''}".rstrip(": ")
    text = " ".join(text.split())
    return text if len(text) <= 400 else text[:397] + "..."
