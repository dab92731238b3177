"""Write plugins/applications/registry.toml: the keras.applications networks as zoo models.

Everything in that file comes from here, from data that can be checked:

* the networks and families: ``plugins/applications/networks.py``;
* each ImageNet weights entry: the URL and the hash exactly as the installed Keras publishes
  them, read from its source files (``keras/src/applications/*.py``) with ``ast`` - nothing
  is imported. Keras publishes MD5 for most files, sha256 for ConvNeXt, and no hash for
  MobileNet and MobileNetV2: those two get no ``imagenet`` entry (the zoo never hands out a
  file it cannot verify);
* top-1/top-5 ImageNet accuracy: the table of https://keras.io/api/applications/ (MobileNetV3:
  the table in its Keras docstring), stored as ``reported_*`` metrics - reported by Keras,
  not measured here;
* parameter counts (default input size, 1000 classes): counted by building every model with
  the zoo (``--count``; a few minutes); otherwise the counts already in the file are kept.

    python scripts/applications_registry.py [--count]      # rewrite the registry
    python scripts/applications_registry.py --check        # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REGISTRY = REPO / "plugins" / "applications" / "registry.toml"


def _load_networks() -> Any:
    """plugins/applications/networks.py, loaded by path (pure data, no zoo import)."""
    spec = importlib.util.spec_from_file_location(
        "_zoo_applications_networks", REPO / "plugins" / "applications" / "networks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


networks = _load_networks()


# ----------------------------------------------------------------- reading Keras' source
def keras_applications_dir() -> Path:
    """The installed Keras' ``src/applications`` folder (found, not imported)."""
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("keras is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "src" / "applications"


class _Source:
    """Module constants, the ``get_file`` calls and the public functions of one source file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"))
        self.env: dict[str, Any] = {}
        self.calls: list[tuple[Any, Any]] = []  # (url, file_hash) of each get_file call
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    value = self.eval(node.value, self.env)
                    if value is not None:
                        self.env[target.id] = value
        self._visit(self.tree.body, dict(self.env))

    def eval(self, node: ast.AST, env: dict[str, Any]) -> Any:  # noqa: PLR0911
        """A literal, name, f-string, ``+`` of strings, tuple or dict; None otherwise."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env.get(node.id)
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                part = self.eval(
                    value.value if isinstance(value, ast.FormattedValue) else value, env
                )
                if part is None:
                    return None
                parts.append(str(part))
            return "".join(parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.eval(node.left, env), self.eval(node.right, env)
            return left + right if isinstance(left, str) and isinstance(right, str) else None
        if isinstance(node, ast.Tuple):
            items = [self.eval(e, env) for e in node.elts]
            return None if None in items else tuple(items)
        if isinstance(node, ast.Dict):
            keys = [self.eval(k, env) if k is not None else None for k in node.keys]
            values = [self.eval(v, env) for v in node.values]
            return None if None in keys or None in values else dict(zip(keys, values, strict=True))
        return None

    def _visit(self, body: list[ast.stmt], env: dict[str, Any]) -> None:
        """Walk the code in source order, tracking simple assignments, and record every
        ``file_utils.get_file(name, url, ..., file_hash=...)`` call."""
        source = self

        class Visitor(ast.NodeVisitor):
            def visit_Assign(self, node: ast.Assign) -> None:  # noqa: N802 - ast's naming
                self.generic_visit(node)
                if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    value = source.eval(node.value, env)
                    if value is not None:
                        env[node.targets[0].id] = value

            def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
                if getattr(node.func, "attr", "") == "get_file":
                    url = source.eval(node.args[1], env) if len(node.args) > 1 else None
                    file_hash = next(
                        (source.eval(k.value, env) for k in node.keywords if k.arg == "file_hash"),
                        None,
                    )
                    source.calls.append((url, file_hash))
                self.generic_visit(node)

        visitor = Visitor()
        for stmt in body:
            visitor.visit(stmt)

    def function(self, name: str) -> ast.FunctionDef:
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                return node
        raise SystemExit(f"{self.path}: no function {name}")

    def call_keyword(self, function: str, keyword: str) -> Any:
        """The constant ``keyword=`` a public function passes to the family's builder."""
        for node in ast.walk(self.function(function)):
            if isinstance(node, ast.Call):
                for k in node.keywords:
                    if k.arg == keyword:
                        return self.eval(k.value, self.env)
        return None

    def default(self, function: str, parameter: str) -> Any:
        args = self.function(function).args
        names = [a.arg for a in args.args]
        defaults = dict(zip(names[len(names) - len(args.defaults) :], args.defaults, strict=True))
        names += [a.arg for a in args.kwonlyargs]
        defaults.update(
            {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d}
        )
        node = defaults.get(parameter)
        return None if node is None else self.eval(node, self.env)

    def hash_of(self, url: str) -> str | None:
        """The ``file_hash`` of the ``get_file`` call that downloads ``url``."""
        found = [h for u, h in self.calls if u == url]
        return found[0] if found else None


_MODULES = {
    "resnet": "resnet",
    "resnet_v2": "resnet_v2",
    "vgg": None,  # vgg16.py / vgg19.py
    "densenet": "densenet",
    "efficientnet": "efficientnet",
    "efficientnet_v2": "efficientnet_v2",
    "convnext": "convnext",
    "inception_v3": "inception_v3",
    "inception_resnet_v2": "inception_resnet_v2",
    "xception": "xception",
    "mobilenet": "mobilenet",
    "mobilenet_v2": "mobilenet_v2",
    "mobilenet_v3": "mobilenet_v3",
    "nasnet": "nasnet",
}


def keras_weights(folder: Path | None = None) -> dict[str, dict[str, str]]:
    """``{network: {"url": ..., "md5" | "sha256": ...}}`` for every network whose ImageNet
    weights (``include_top=True``) Keras publishes with a hash."""
    folder = folder or keras_applications_dir()
    sources: dict[str, _Source] = {}

    def source(module: str) -> _Source:
        if module not in sources:
            sources[module] = _Source(folder / f"{module}.py")
        return sources[module]

    out: dict[str, dict[str, str]] = {}
    for net in networks.NETWORKS.values():
        family = net.family
        url: str | None = None
        digest: str | None = None
        if family in ("resnet", "resnet_v2"):
            src = source("resnet")
            name = source(_MODULES[family]).call_keyword(net.function, "weights_name")
            url = f"{src.env['BASE_WEIGHTS_PATH']}{name}_weights_tf_dim_ordering_tf_kernels.h5"
            digest = src.env["WEIGHTS_HASHES"][name][0]
        elif family in ("efficientnet", "efficientnet_v2", "convnext"):
            src = source(_MODULES[family])
            key = src.call_keyword(net.function, "weights_name")
            model_name = src.default(net.function, "name") or src.call_keyword(
                net.function, "model_name"
            )
            url = src.env["BASE_WEIGHTS_PATH"] + model_name + ".h5"
            digest = src.env["WEIGHTS_HASHES"][key][0]
        elif family == "mobilenet_v3":
            src = source("mobilenet_v3")
            key = f"{net.variant}_224_1.0_float"
            url = f"{src.env['BASE_WEIGHT_PATH']}weights_mobilenet_v3_{key}.h5"
            digest = src.env["WEIGHTS_HASHES"][key][0]
        elif family in ("mobilenet", "mobilenet_v2"):
            continue  # Keras publishes no hash for these files
        else:  # a constant URL per file: vgg16, vgg19, densenet, inception, xception, nasnet
            module = net.name if family == "vgg" else _MODULES[family]
            src = source(module)
            constant = {
                "densenet": f"DENSENET{net.variant}_WEIGHT_PATH",
                "nasnet": f"NASNET_{net.variant.upper()}_WEIGHT_PATH",
            }.get(family, "WEIGHTS_PATH")
            if family == "inception_resnet_v2":
                url = src.env["BASE_WEIGHT_URL"] + (
                    "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5"
                )
            else:
                url = src.env[constant]
            digest = src.hash_of(url)
        if not url or not digest:
            raise SystemExit(f"{net.name}: no URL or hash found in the Keras source")
        kind = {32: "md5", 64: "sha256"}.get(len(digest))
        if kind is None:
            raise SystemExit(f"{net.name}: hash {digest!r} is neither MD5 nor sha256")
        out[net.name] = {"url": url, kind: digest}
    return out


# ------------------------------------------------------------------ reported accuracy
# https://keras.io/api/applications/ ("Available models"); MobileNetV3: the table in its
# docstring (top-1 only). ConvNeXt's rows could not be checked against a copy of that page
# here, so its entries carry no metrics rather than numbers from memory.
REPORTED = {
    "xception": (0.790, 0.945),
    "vgg16": (0.713, 0.901),
    "vgg19": (0.713, 0.900),
    "resnet50": (0.749, 0.921),
    "resnet50_v2": (0.760, 0.930),
    "resnet101": (0.764, 0.928),
    "resnet101_v2": (0.772, 0.938),
    "resnet152": (0.766, 0.931),
    "resnet152_v2": (0.780, 0.942),
    "inception_v3": (0.779, 0.937),
    "inception_resnet_v2": (0.803, 0.953),
    "mobilenet": (0.704, 0.895),
    "mobilenet_v2": (0.713, 0.901),
    "densenet121": (0.750, 0.923),
    "densenet169": (0.762, 0.932),
    "densenet201": (0.773, 0.936),
    "nasnet_mobile": (0.744, 0.919),
    "nasnet_large": (0.825, 0.960),
    "efficientnet_b0": (0.771, 0.933),
    "efficientnet_b1": (0.791, 0.944),
    "efficientnet_b2": (0.801, 0.949),
    "efficientnet_b3": (0.816, 0.957),
    "efficientnet_b4": (0.829, 0.964),
    "efficientnet_b5": (0.836, 0.967),
    "efficientnet_b6": (0.840, 0.968),
    "efficientnet_b7": (0.843, 0.970),
    "efficientnet_v2_b0": (0.787, 0.943),
    "efficientnet_v2_b1": (0.798, 0.950),
    "efficientnet_v2_b2": (0.805, 0.951),
    "efficientnet_v2_b3": (0.820, 0.958),
    "efficientnet_v2_s": (0.839, 0.967),
    "efficientnet_v2_m": (0.853, 0.974),
    "efficientnet_v2_l": (0.857, 0.975),
    "mobilenet_v3_small": (0.681, None),
    "mobilenet_v3_large": (0.756, None),
}

# ----------------------------------------------------------------------------- families
PAPERS = {
    "resnet": "https://arxiv.org/abs/1512.03385",
    "resnet_v2": "https://arxiv.org/abs/1603.05027",
    "vgg": "https://arxiv.org/abs/1409.1556",
    "densenet": "https://arxiv.org/abs/1608.06993",
    "efficientnet": "https://arxiv.org/abs/1905.11946",
    "efficientnet_v2": "https://arxiv.org/abs/2104.00298",
    "convnext": "https://arxiv.org/abs/2201.03545",
    "inception_v3": "https://arxiv.org/abs/1512.00567",
    "inception_resnet_v2": "https://arxiv.org/abs/1602.07261",
    "xception": "https://arxiv.org/abs/1610.02357",
    "mobilenet": "https://arxiv.org/abs/1704.04861",
    "mobilenet_v2": "https://arxiv.org/abs/1801.04381",
    "mobilenet_v3": "https://arxiv.org/abs/1905.02244",
    "nasnet": "https://arxiv.org/abs/1707.07012",
}
TITLES = {
    "resnet": "ResNet (v1)",
    "resnet_v2": "ResNet v2 (pre-activation)",
    "vgg": "VGG",
    "densenet": "DenseNet",
    "efficientnet": "EfficientNet",
    "efficientnet_v2": "EfficientNetV2",
    "convnext": "ConvNeXt",
    "inception_v3": "Inception v3",
    "inception_resnet_v2": "Inception-ResNet v2",
    "xception": "Xception",
    "mobilenet": "MobileNet (v1)",
    "mobilenet_v2": "MobileNetV2",
    "mobilenet_v3": "MobileNetV3",
    "nasnet": "NASNet-A",
}
PREPROCESSING = {
    "caffe": "RGB->BGR, minus the ImageNet mean (caffe mode)",
    "tf": "scaled to [-1, 1] (tf mode)",
    "torch": "scaled to [0, 1], ImageNet mean/std normalised (torch mode)",
    "tf128": "x / 128 - 1",
    "keras": "the network's own include_preprocessing layer (scaled to [-1, 1])",
    "efficientnet": "EfficientNet's built-in rescaling and normalisation",
}
DEFAULT_DATASET = (
    "generated: 3,000 64x64 colour images of 6 shapes (circle, square, triangle, diamond, "
    "cross, ring) in random colours, sizes and places on noisy backgrounds; trained at 64x64 "
    "(75x75 for Inception, 71x71 for Xception) unless height/width are set"
)
LICENSE = "Apache-2.0"
WEIGHTS_LICENSE = (
    "as published with Keras Applications (keras.io/api/applications); the original "
    "release's terms apply"
)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)


def hparams(family: Any) -> dict[str, dict[str, Any]]:
    """The typed hyper-parameters of a family's architecture (defaults: its first network)."""
    first = networks.default_network(family.name)
    out: dict[str, dict[str, Any]] = {}
    names = networks.variants(family.name)
    if names:
        out["variant"] = {
            "type": "str",
            "default": first.variant,
            "choices": names,
            "help": "which network of the family (the presets set it)",
        }
    for key in ("height", "width"):
        out[key] = {
            "type": "int",
            "default": first.size,
            "min": family.min_size,
            "max": 4096,
            "help": f"input image {key} in pixels (ImageNet weights: {first.size})",
        }
    if family.alphas:
        out["alpha"] = {
            "type": "float",
            "default": 1.0,
            "choices": list(family.alphas),
            "help": "width multiplier: filters of every layer x alpha",
        }
    out["dropout"] = {
        "type": "float",
        "default": first.dropout,
        "min": 0.0,
        "max": 0.95,
        "help": "dropout before the classifier",
    }
    if family.name != "convnext":  # the one family without BatchNormalization
        out["bn_momentum"] = {
            "type": "float",
            "default": 0.9,
            "min": 0.0,
            "max": 0.9999,
            "help": "momentum of the BatchNormalization moving statistics while training "
            "(Keras: 0.99, 0.999 for MobileNetV2/V3, 0.9997 for NASNet - too slow to settle "
            "in a short run on small data); no effect on inference or loaded weights",
        }
    out["pooling"] = {
        "type": "str",
        "default": "flatten" if family.head == "vgg" else "avg",
        "choices": (["flatten"] if family.head == "vgg" else []) + ["avg", "max"],
        "help": "how the last feature map becomes one vector",
    }
    if family.preprocessing != "efficientnet":
        out["include_preprocessing"] = {
            "type": "bool",
            "default": True,
            "help": "preprocessing inside the model (inputs: RGB pixels in [0, 255]); false: "
            "inputs already preprocessed the family's way",
        }
    out["num_classes"] = {
        "type": "int",
        "default": 1000,
        "min": 2,
        "max": 100000,
        "help": "output classes (ImageNet: 1000)",
    }
    return out


def preset_hparams(net: Any) -> dict[str, Any]:
    """A network's values that differ from its family's defaults."""
    family = networks.FAMILIES[net.family]
    first = networks.default_network(family.name)
    out: dict[str, Any] = {}
    if net.variant and net.variant != first.variant:
        out["variant"] = net.variant
    if net.size != first.size:
        out["height"] = out["width"] = net.size
    if net.dropout != first.dropout:
        out["dropout"] = net.dropout
    return out


def _modes(family: Any, nets: list[Any]) -> str:
    """The preprocessing of a family's networks, in words."""
    modes: dict[str, list[str]] = {}
    for net in nets:
        modes.setdefault(net.preprocessing or family.preprocessing, []).append(net.function)
    if len(modes) == 1:
        return PREPROCESSING[next(iter(modes))]
    return "; ".join(f"{', '.join(fns)}: {PREPROCESSING[mode]}" for mode, fns in modes.items())


def render(params: dict[str, int], weights: dict[str, dict[str, str]]) -> str:
    lines = [
        "# The applications plugin: the image-classification networks of keras.applications as",
        "# zoo models, with Keras' ImageNet weights. GENERATED by scripts/applications_registry.py",
        "# from plugins/applications/networks.py and the installed Keras' source: do not edit.",
        "schema_version = 1",
        "",
    ]
    for family in networks.FAMILIES.values():
        nets = [n for n in networks.NETWORKS.values() if n.family == family.name]
        size = networks.default_network(family.name).size
        lines += [
            f"[architectures.{family.name}]",
            'plugin = "applications"',
            f"summary = {_toml(TITLES[family.name] + ' image classifier (keras.applications)')}",
            'task = "image-classification"',
            f"head = {_toml(list(family.head_layers))}",
            "input = "
            + _toml(f"height x width x 3 RGB image, pixels in [0, 255] (default {size}x{size})"),
            'output = "num_classes softmax probabilities"',
            f"default_dataset = {_toml(DEFAULT_DATASET)}",
            f"paper = {_toml(PAPERS[family.name])}",
            "description = "
            + _toml(
                f"keras.applications {', '.join(n.function for n in nets)} with Keras' own "
                f"classifier head; preprocessing inside the model: {_modes(family, nets)}"
            ),
            f"[architectures.{family.name}.hparams]",
        ]
        for key, spec in hparams(family).items():
            lines.append(f"{key} = {_toml(spec)}")
        lines.append("")
    for net in networks.NETWORKS.values():
        lines += [
            f"[models.{net.name}]",
            f"architecture = {_toml(net.family)}",
            "summary = "
            + _toml(f"keras.applications.{net.function} ({net.size}x{net.size} input)"),
            f"license = {_toml(LICENSE)}",
        ]
        if net.name in params:
            lines.append(f"params = {params[net.name]}")
        values = preset_hparams(net)
        if values:
            lines.append(f"hparams = {_toml(values)}")
        lines.append("")
        entry = weights.get(net.name)
        if entry is None:
            continue
        kind = "md5" if "md5" in entry else "sha256"
        metrics: dict[str, float] = {}
        top1, top5 = REPORTED.get(net.name, (None, None))
        if top1 is not None:
            metrics["reported_top1_accuracy"] = top1
        if top5 is not None:
            metrics["reported_top5_accuracy"] = top5
        lines += [
            f"[[models.{net.name}.weights]]",
            'name = "imagenet"',
            f"source = {_toml(entry['url'])}",
            f"{kind} = {_toml(entry[kind])}",
            'format = "keras-legacy-h5"',
            'dataset = "imagenet"',
            f"license = {_toml(WEIGHTS_LICENSE)}",
            "description = "
            + _toml(
                f"Keras' ImageNet weights of {net.function} (include_top=True, legacy .h5); "
                f"verified by the {kind.upper()} Keras publishes, then pinned by sha256 and "
                "size; metrics are reported by Keras, not measured here"
            ),
        ]
        if metrics:
            lines.append(f"metrics = {_toml(metrics)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def existing_params() -> dict[str, int]:
    if not REGISTRY.is_file():
        return {}
    data = tomllib.loads(REGISTRY.read_text(encoding="utf-8"))
    return {k: v["params"] for k, v in data.get("models", {}).items() if "params" in v}


def count_params(names: list[str]) -> dict[str, int]:
    """Build each model at its defaults with the zoo and count its parameters."""
    import gc

    import keras

    import zoo

    out = {}
    for name in names:
        model = zoo.create(name, compile=False) if _takes_compile() else zoo.create(name)
        out[name] = int(model.count_params())
        print(f"{name:24s} {out[name]:>12,d}", flush=True)
        del model
        keras.backend.clear_session()
        gc.collect()
    return out


def _takes_compile() -> bool:
    import inspect

    import zoo

    return "compile" in inspect.signature(zoo.create).parameters


def markdown(params: dict[str, int], weights: dict[str, dict[str, str]]) -> str:
    """The README table of the 40 models."""
    rows = [
        "| model | keras.applications | input | params | `imagenet` (reported top-1 / top-5) |",
        "| --- | --- | --- | ---: | --- |",
    ]
    for net in networks.NETWORKS.values():
        if net.name in weights:
            top1, top5 = REPORTED.get(net.name, (None, None))
            cell = "yes" + (f" ({top1:.1%}" + (f" / {top5:.1%})" if top5 else ")") if top1 else "")
        else:
            cell = "- (Keras publishes no hash)"
        count = params.get(net.name)
        shown = f"{count / 1e6:.1f}M" if count else "?"
        rows.append(f"| `{net.name}` | {net.function} | {net.size}×{net.size} | {shown} | {cell} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", action="store_true", help="rebuild every model to count")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--markdown", action="store_true", help="print the README table")
    args = parser.parse_args()
    weights = keras_weights()
    params = existing_params()
    if args.count:
        params = count_params(list(networks.NETWORKS))
    text = render(params, weights)
    if args.markdown:
        print(markdown(params, weights))
        return 0
    if args.check:
        current = REGISTRY.read_text(encoding="utf-8") if REGISTRY.is_file() else ""
        if current != text:
            print(f"{REGISTRY} is out of date: run python {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{REGISTRY} is up to date ({len(weights)} weights entries)")
        return 0
    REGISTRY.write_text(text, encoding="utf-8")
    print(f"wrote {REGISTRY}: {len(networks.NETWORKS)} models, {len(weights)} imagenet entries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
