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

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from zoo.errors import UnknownModelError, did_you_mean
from zoo.testing.checks import PluginSubject
from zoo.testing.results import Check, CheckResult, Report


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
