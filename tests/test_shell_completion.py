"""Shell completion: model names, name:tag weight sets and export formats come from the
registry data, through click's completion protocol, without importing TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_python, run_zoo

PROBE = """
import json, os, sys
os.environ.update({env!r})
from zoo.cli.main import main
try:
    main([])
except SystemExit:
    pass
heavy = [m for m in ("tensorflow", "keras", "zoo.plugins.applications.model") if m in sys.modules]
print(json.dumps(heavy), file=sys.stderr)
"""


def complete(shell: str, words: str, cword: int | str, **env: str) -> tuple[list[str], list[str]]:
    """(completions, heavy modules imported) for ``words`` as ``shell`` asks for them."""
    code, out, err = run_python(
        PROBE.format(
            env={
                "_ZOO_COMPLETE": f"{shell}_complete",
                "COMP_WORDS": words,
                "COMP_CWORD": str(cword),
                **env,
            }
        )
    )
    assert code == 0, err
    heavy = json.loads(err.strip().splitlines()[-1])
    if shell == "bash":
        return [line.split(",", 1)[1] for line in out.splitlines()], heavy
    if shell == "zsh":  # type, value, help per item
        lines = out.splitlines()
        return [lines[i + 1].replace("\\:", ":") for i in range(0, len(lines), 3)], heavy
    # fish: type,value<TAB>help
    return [line.split(",", 1)[1].split("\t")[0] for line in out.splitlines()], heavy


def test_train_completes_models_and_weight_tags_without_tensorflow():
    items, heavy = complete("bash", "zoo train mobilenet_v3", 2)
    assert items == [
        "mobilenet_v3_large",
        "mobilenet_v3_large:imagenet",
        "mobilenet_v3_small",
        "mobilenet_v3_small:imagenet",
    ]
    assert heavy == []
    items, _ = complete("bash", "zoo train cnn", 2)
    assert items == ["cnn", "cnn:digits", "cnn-small"]


def test_weights_fetch_completes_only_weight_sets():
    items, heavy = complete("bash", "zoo weights fetch resnet50", 3)
    assert items == ["resnet50", "resnet50:imagenet", "resnet50_v2", "resnet50_v2:imagenet"]
    assert heavy == []
    items, _ = complete("bash", "zoo weights fetch mobilenet", 3)
    assert "mobilenet" not in items and "mobilenet_v2" not in items  # no weights to fetch
    assert "mobilenet_v3_small:imagenet" in items


def test_export_format_completes_the_formats():
    items, heavy = complete("bash", "zoo export resnet50 --format ", 4)
    assert items == ["keras", "savedmodel", "onnx", "litert"]
    assert heavy == []
    items, _ = complete("bash", "zoo export cnn -f o", 4)
    assert items == ["onnx"]


def test_zsh_and_fish_get_the_same_names():
    items, heavy = complete("zsh", "zoo train resnet50:", 2)
    assert items == ["resnet50:imagenet"] and heavy == []
    items, _ = complete("fish", "zoo train resnet50:", "resnet50:")
    assert items == ["resnet50:imagenet"]


def test_registry_option_layers_are_used(tmp_path: Path):
    mine = tmp_path / "mine.toml"
    mine.write_text('[models.my-cnn]\narchitecture = "cnn"\n')
    items, _ = complete("bash", f"zoo --registry {mine} train my-", 4)
    assert items == ["my-cnn"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_activation_scripts(shell: str):
    code, out, err = run_zoo(env={"_ZOO_COMPLETE": f"{shell}_source"})
    assert code == 0, err
    assert "_ZOO_COMPLETE" in out and f"{shell}_complete" in out
