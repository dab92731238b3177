"""The plugin conformance kit, in the spirit of scikit-learn's ``check_estimator``.

One call proves that an installed plugin keeps the zoo's contract::

    import zoo.testing

    report = zoo.testing.check_plugin("autoencoder")   # raises ConformanceError on failure
    print(report)

or, one pytest test per check, in the plugin's own test suite::

    import pytest
    from zoo.testing import plugin_checks

    @pytest.mark.parametrize("check", plugin_checks("autoencoder"))
    def test_conformance(check):
        check()

``name`` is the plugin's entry-point name (every architecture of the plugin is checked
through one of its model presets) or one of its model names. The named checks are:

==========================  =================================================================
``registry``                registry.toml found next to the module (without importing it),
                            valid, declares the plugin's architectures with a summary and at
                            least one model preset each
``hparam_defaults``         every declared hyper-parameter default and every preset value
                            passes validation
``no_tensorflow_on_import`` importing the plugin module (fresh interpreter) imports neither
                            TensorFlow nor Keras
``hooks``                   the module loads, implements ``zoo_build`` and ``zoo_dataset``
                            with the specified signatures; ``ZOO_EXPECTED_FAILURES`` is valid
``build``                   build with the preset's values gives a ``keras.Model`` reading
                            only declared hyper-parameters; its size matches ``params``
``hparam_values``           a non-default, in-range value of each hyper-parameter builds
``dataset``                 the default dataset is a non-empty ``Dataset`` whose arrays fit
                            the model's inputs and whose targets fit its outputs
``train_steps``             a few steps of the plugin's ``zoo_train`` (or the core's) on 64
                            examples give a finite loss that goes down
``save_load``               weights saved and loaded into a fresh build give the same output
``export_<format>``         each declared export format writes and passes the parity check
==========================  =================================================================

Expected failures: a plugin module may define ``ZOO_EXPECTED_FAILURES = {"check": "why"}``;
such a check still runs, and is reported ``xfail`` when it fails — and ``failed`` when it
passes, so the list stays true. A format in the architecture's ``unsupported_formats``
(registry.toml) is reported ``xfail`` with the registry's reason without running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import PluginError, UnknownModelError, ZooError, did_you_mean

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


# -- public entry points ---------------------------------------------------------------------
def collect_checks(
    name: str,
    *,
    model: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    checks: Iterable[str] | None = None,
) -> tuple[str, list[str], list[Check]]:
    """(plugin name, model names, checks) for plugin or model ``name``.

    ``model`` picks one preset of the plugin; ``overrides`` are hyper-parameters or training
    options applied to every model checked (e.g. ``{"units": 8}``) to keep the checks fast;
    ``checks`` keeps only the named checks (``export_*`` patterns allowed).
    """
    from zoo.testing_checks import PluginSubject

    subject = PluginSubject.resolve(name, model=model, overrides=dict(overrides or {}))
    all_checks = subject.checks()
    if checks is not None:
        import fnmatch

        wanted = list(checks)
        known = [c.name for c in all_checks]
        for pattern in wanted:
            if not any(fnmatch.fnmatchcase(k, pattern) for k in known):
                hint = did_you_mean(pattern, known)
                raise UnknownModelError(
                    f"plugin '{subject.plugin}' has no check '{pattern}'",
                    (hint + " " if hint else "") + "checks: " + ", ".join(known),
                )
        all_checks = [c for c in all_checks if any(fnmatch.fnmatchcase(c.name, p) for p in wanted)]
    return subject.plugin, [ref.model.name for ref in subject.refs], all_checks


def check_plugin(
    name: str,
    *,
    model: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    checks: Iterable[str] | None = None,
    raise_on_failure: bool = True,
    on_result: Callable[[CheckResult], None] | None = None,
) -> Report:
    """Run every conformance check on plugin (or model) ``name`` and return the report.

    Raises :class:`ConformanceError` (a ``ZooError``) naming the first failed check unless
    ``raise_on_failure`` is False. ``on_result`` is called after each check (progress).
    """
    plugin, models, selected = collect_checks(name, model=model, overrides=overrides, checks=checks)
    report = Report(plugin=plugin, models=models)
    for check in selected:
        result = check.run()
        report.results.append(result)
        if on_result is not None:
            on_result(result)
    if raise_on_failure:
        report.raise_for_failures()
    return report


def plugin_checks(
    name: str,
    *,
    model: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    checks: Iterable[str] | None = None,
) -> list[Any]:
    """The checks as ``pytest.param`` objects (id = check name), for ``parametrize``::

    @pytest.mark.parametrize("check", plugin_checks("autoencoder"))
    def test_conformance(check):
        check()
    """
    import pytest

    _, _, selected = collect_checks(name, model=model, overrides=overrides, checks=checks)
    return [pytest.param(check, id=check.name) for check in selected]


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
