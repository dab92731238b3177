"""Weights sources in registries (issue 16, class 7): one bad entry hides nobody's weights.

Sources are validated when a registry loads. In a plugin's registry, a path that leaves its
package (``package:os/../../etc/passwd``) or an unknown scheme is a registry error that marks
only that plugin broken: `zoo weights list` still lists every other model's weights (exit 0,
a warning on stderr). ``file://`` URLs are valid (absolute paths); relative paths are relative
to the registry file. None of this imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import fakeplugins as fp
import pytest
import tomli_w
from conftest import run_zoo

import zoo.catalog
from hostile.common import assert_one_line_error
from zoo.catalog.registry import parse_source
from zoo.errors import RegistryError
from zoo.weights.store import fetch

PAYLOAD = os.urandom(5000)  # the store checks bytes only
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def entry(name: str, source: str) -> dict:
    return {"name": name, "source": source, "sha256": SHA, "size": len(PAYLOAD)}


def weights_table(model: str, *entries: dict) -> str:
    return "\n" + tomli_w.dumps({"models": {model: {"weights": list(entries)}}})


def plugin_with_source(site: Path, name: str, source: str) -> Path:
    """Plugin ``name`` whose model ``<name>-model`` declares weights from ``source``."""
    package = f"zoo_{name}"
    text = fp.registry(f"{name}arch", {f"{name}-model": "hostile weights"})
    text += weights_table(f"{name}-model", entry("w", source))
    (site / package).mkdir(parents=True, exist_ok=True)
    (site / package / "w.weights.h5").write_bytes(PAYLOAD)
    return fp.make_dist(
        site,
        f"zoo-{name}",
        {name: package},
        {f"{package}/__init__.py": fp.GOOD_HOOKS, f"{package}/registry.toml": text},
    )


HOSTILE_SOURCES = {
    "traversal": "package:os/../../etc/passwd",
    "package-subfolder": "package:zoo_evil/sub/w.weights.h5",
    "not-a-package-name": "package:../zoo_evil/w.weights.h5",
    "s3": "s3://bucket/w.weights.h5",
    "ftp": "ftp://example.com/w.weights.h5",
    "hf": "hf://org/model/w.weights.h5",
    "remote-file-url": "file://otherhost/w.weights.h5",
    "relative-file-url": "file:w.weights.h5",
    "url-without-host": "https:///w.weights.h5",
    "javascript": "javascript:alert(1)",
    "empty": "",
}


@pytest.mark.parametrize("source", list(HOSTILE_SOURCES.values()), ids=list(HOSTILE_SOURCES))
def test_hostile_source_is_a_registry_error_naming_the_entry(source: str) -> None:
    with pytest.raises(RegistryError) as exc:
        parse_source(source, "/plugins/registry.toml", "registry.toml: models.m.weights[0]")
    text = str(exc.value)
    assert "models.m.weights[0]" in text and "\n" not in text


@pytest.mark.parametrize("name", ["traversal", "s3"])
def test_bad_source_breaks_only_its_plugin(tmp_path: Path, name: str) -> None:
    site = tmp_path / "site"
    plugin_with_source(site, "evil", HOSTILE_SOURCES[name])
    fp.good_plugin(site)
    env = {"PYTHONPATH": str(site)}

    code, out, err = run_zoo("weights", "list", env=env)
    assert code == 0, err
    assert "mlp:gaussian-clusters" in out and "cnn:digits" in out
    assert "evil-model" not in out
    assert "Traceback" not in err and "plugin evil (zoo-evil) failed to load" in err

    code, out, err = run_zoo("plugins", "--json", env=env)
    plugins = {p["name"]: p for p in json.loads(out)}
    assert plugins["evil"]["status"] == "error"
    assert HOSTILE_SOURCES[name] in plugins["evil"]["error"]
    assert plugins["good"]["status"] == "ok"  # the other third-party plugin is unaffected

    code, out, err = run_zoo("list", "--json", env=env)
    assert code == 0 and "good-tiny" in {m["name"] for m in json.loads(out)}, err

    code, _, err = run_zoo("weights", "fetch", "evil-model:w", env=env)
    assert_one_line_error(code, err, "evil")


def test_bad_source_in_the_users_own_layer_is_one_line_naming_it(tmp_path: Path) -> None:
    registry = tmp_path / "registry.toml"
    registry.write_text(
        "schema_version = 1\n" + weights_table("mlp", entry("x", HOSTILE_SOURCES["traversal"]))
    )
    code, _, err = run_zoo("--registry", str(registry), "weights", "list")
    assert_one_line_error(code, err, str(registry), "models.mlp.weights[0]", "package:os/")


def test_file_url_is_an_absolute_path(tmp_path: Path) -> None:
    weights = tmp_path / "my weights" / "w.weights.h5"
    weights.parent.mkdir()
    weights.write_bytes(PAYLOAD)
    url = "file://" + str(weights).replace(" ", "%20")
    registry = tmp_path / "registry.toml"
    registry.write_text(
        "schema_version = 1\n"
        + weights_table(
            "mlp", entry("url", url), entry("localhost", url.replace("//", "//localhost", 1))
        )
    )
    zoo.catalog.use_registry(registry)
    catalog = zoo.catalog.get_catalog()
    for tag in ("url", "localhost"):
        assert fetch(catalog.resolve(f"mlp:{tag}").weights, tag) == weights


def test_relative_path_is_relative_to_the_registry_file(tmp_path: Path) -> None:
    layer = tmp_path / "team"
    (layer / "files").mkdir(parents=True)
    (layer / "files" / "w.weights.h5").write_bytes(PAYLOAD)
    registry = layer / "registry.toml"
    registry.write_text(
        "schema_version = 1\n" + weights_table("mlp", entry("rel", "files/w.weights.h5"))
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, err = run_zoo(
        "--registry", str(registry), "weights", "path", "mlp:rel", cwd=elsewhere
    )
    assert code == 0, err
    assert out.strip() == str(layer / "files" / "w.weights.h5")


def test_package_source_of_a_module_is_missing_not_read(tmp_path: Path) -> None:
    """``package:`` names a package's own file: a plain module (``os``) has none, and the
    package is found without importing it."""
    registry = tmp_path / "registry.toml"
    registry.write_text(
        "schema_version = 1\n" + weights_table("mlp", entry("os", "package:os/os.py"))
    )
    code, _, err = run_zoo("--registry", str(registry), "weights", "path", "mlp:os")
    assert_one_line_error(code, err, "missing from package 'os'")
