"""The few places where zoo must go beyond a dependency's documented API.

Each entry says why there is no public route, and ``tests/test_compat.py`` fails loudly when
the dependency changes what the entry relies on. Nothing here is imported at module level of
a dependency: every function imports what it needs when it is called.
"""

from __future__ import annotations

from typing import Any

_erfc_registered = False


def register_tf2onnx_erfc() -> None:
    """Teach tf2onnx TensorFlow's ``Erfc`` op as ``erfc(x) = 1 - erf(x)``.

    Why: Keras' exact GELU (``activation="gelu"``) runs ``tf.nn.gelu``, which computes
    ``0.5 * x * erfc(-x / sqrt(2))``, and tf2onnx 1.17 has no converter for ``Erfc``, so the
    ONNX export of such a model does not load in ONNX Runtime. tf2onnx's extension point for
    a missing op is its op-handler registry, which is global by design: every converter of
    tf2onnx itself is a class registered with ``@tf2onnx.handler.tf_op("Name")`` whose
    ``version_N`` class methods rewrite the node for opset N. ``keras.Model.export(
    format="onnx")`` offers no per-conversion way to pass a handler, so this one is
    registered once per process, and only when tf2onnx lacks one (a later tf2onnx that
    converts ``Erfc`` itself wins).

    Relies on: ``tf2onnx.handler.tf_op`` (decorator and ``tf_op.get_opsets()``),
    ``tf2onnx.constants.ONNX_DOMAIN``, ``tf2onnx.utils.make_name`` and
    ``map_onnx_to_numpy_type``, and the graph methods ``get_dtype``, ``make_const``,
    ``make_node`` and ``replace_inputs`` that tf2onnx's own handlers use.
    """
    global _erfc_registered
    if _erfc_registered:
        return
    import numpy as np
    from tf2onnx.handler import tf_op

    if not tf2onnx_has_handler("Erfc"):

        @tf_op("Erfc")
        class _Erfc:
            @classmethod
            def version_9(cls, ctx: Any, node: Any, **kwargs: Any) -> None:
                from tf2onnx import utils

                dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
                one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype))
                erf = ctx.make_node("Erf", [node.input[0]], op_name_scope=node.name)
                node.type = "Sub"
                ctx.replace_inputs(node, [one.output[0], erf.output[0]])

    _erfc_registered = True


def tf2onnx_has_handler(op: str) -> bool:
    """Whether tf2onnx has a converter for the TensorFlow op ``op`` in the ONNX domain."""
    import tf2onnx.tfonnx  # noqa: F401  (registers tf2onnx's own converters on import)
    from tf2onnx import constants
    from tf2onnx.handler import tf_op

    opsets = tf_op.get_opsets().get(constants.ONNX_DOMAIN, [])
    return any(op in handlers for handlers in opsets)
