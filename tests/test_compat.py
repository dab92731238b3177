"""zoo/_compat.py: what each entry relies on still exists and still works, so a dependency
upgrade that changes it fails here, by name, and not as a wrong export somewhere else."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import run_python

ROOT = Path(__file__).resolve().parents[1]
# Private internals of dependencies, and the tf2onnx registry that only _compat may touch.
PRIVATE = re.compile(
    r"_backend_update_step|__closure__|tf\.__internal__|_flatten_layers|cell_contents"
    r"|keras\.src\b|tensorflow\.python\b|tf2onnx\.handler|tf2onnx import handler"
)


def test_no_private_dependency_internals_outside_compat() -> None:
    """Only zoo/_compat.py may reach into internals of Keras, TensorFlow or tf2onnx."""
    allowed = ROOT / "zoo" / "_compat.py"
    found = []
    for folder in ("zoo", "cli", "plugins"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == allowed:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if PRIVATE.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_importing_compat_imports_no_dependency() -> None:
    heavy = "{'tensorflow', 'keras', 'tf2onnx', 'onnx'}"
    code = f"import sys, zoo._compat; print(sorted({heavy} & set(sys.modules)))"
    rc, out, err = run_python(code)
    assert rc == 0, err
    assert out.strip() == "[]"


# -- tf2onnx: the Erfc handler ------------------------------------------------------------
def test_tf2onnx_api_the_erfc_handler_uses() -> None:
    """The names register_tf2onnx_erfc uses. If this fails, tf2onnx changed its handler
    registry: rewrite zoo._compat.register_tf2onnx_erfc, or drop it if tf2onnx now converts
    Erfc itself."""
    pytest.importorskip("tf2onnx", reason="keras-zoo[onnx] extra not installed")
    import tf2onnx
    import tf2onnx.tfonnx  # noqa: F401  (its import registers tf2onnx's converters)
    from tf2onnx import constants, utils
    from tf2onnx.graph import Graph
    from tf2onnx.handler import tf_op

    assert isinstance(constants.ONNX_DOMAIN, str)
    assert callable(tf_op) and callable(tf_op.get_opsets)
    opsets = tf_op.get_opsets()
    assert isinstance(opsets, dict) and constants.ONNX_DOMAIN in opsets, sorted(opsets)
    # one mapping {tf op name: (handler, kwargs)} per opset version
    assert all(isinstance(handlers, dict) for handlers in opsets[constants.ONNX_DOMAIN])
    assert any("Erf" in handlers for handlers in opsets[constants.ONNX_DOMAIN])
    assert callable(utils.make_name) and callable(utils.map_onnx_to_numpy_type)
    for method in ("get_dtype", "make_const", "make_node", "replace_inputs"):
        assert callable(getattr(Graph, method, None)), f"tf2onnx Graph.{method} is gone"
    assert tf2onnx.__version__


def test_erfc_handler_is_registered_once_and_converts_exactly(tmp_path: Path) -> None:
    pytest.importorskip("tf2onnx", reason="keras-zoo[onnx] extra not installed")
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    from zoo._compat import register_tf2onnx_erfc, tf2onnx_has_handler

    register_tf2onnx_erfc()
    register_tf2onnx_erfc()  # idempotent
    assert tf2onnx_has_handler("Erfc")

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def erfc(x: tf.Tensor) -> tf.Tensor:
        return tf.math.erfc(x)

    path = tmp_path / "erfc.onnx"
    tf2onnx.convert.from_function(erfc, input_signature=erfc.input_signature, output_path=path)
    x = np.linspace(-3, 3, 12, dtype="float32").reshape(4, 3)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(got, tf.math.erfc(x).numpy(), atol=1e-6)
