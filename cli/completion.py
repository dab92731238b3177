"""Shell completion from the catalog: model names, ``name:tag`` weight sets, export formats.

click calls these while the shell asks for completions (``_ZOO_COMPLETE=bash_complete zoo
...``); they read the registry data only - no plugin code, no TensorFlow - so a TAB answers
as fast as ``zoo list``. Enable it with ``eval "$(_ZOO_COMPLETE=bash_source zoo)"`` (zsh:
``zsh_source``, fish: ``fish_source``; see README "Shell completion").
"""

from __future__ import annotations

import os
from typing import Any

import click
from click.shell_completion import CompletionItem


def _catalog(ctx: click.Context) -> Any:
    """The catalog, with the ``--registry`` layers given on the command line so far."""
    from zoo.catalog import get_catalog, use_registry

    for path in ctx.find_root().params.get("registries") or ():
        if os.path.isfile(path):
            use_registry(path)
    return get_catalog()


def _safe(collect: Any) -> Any:
    """A completion never fails the shell: a broken registry completes nothing."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from zoo.errors import ZooError

        try:
            return collect(ctx, param, incomplete)
        except (ZooError, OSError):
            return []

    return complete


def _models(ctx: click.Context, incomplete: str, tags: bool, only_pretrained: bool) -> list[Any]:
    items = []
    for model in _catalog(ctx).list():
        if only_pretrained and not model.weights:
            continue
        if model.name.startswith(incomplete):
            items.append(CompletionItem(model.name, help=model.summary or None))
        if tags:
            for tag, entry in model.weights.items():
                label = f"{model.name}:{tag}"
                if label.startswith(incomplete):
                    items.append(CompletionItem(label, help=entry.dataset or None))
    return items


@_safe
def model_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Model names and ``name:tag`` weight sets (``zoo train``, ``zoo info``...); paths
    too once the word looks like one (a run folder)."""
    if os.sep in incomplete or incomplete.startswith("."):
        return [CompletionItem(incomplete, type="dir")]
    return _models(ctx, incomplete, tags=True, only_pretrained=False)


@_safe
def weight_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """``name:tag`` weight sets, and the names of models that have some (``zoo weights``)."""
    return _models(ctx, incomplete, tags=True, only_pretrained=True)


@_safe
def export_formats(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The built-in formats plus every format an architecture declares; for a model named
    already, its architecture's formats minus those it cannot support."""
    from zoo.catalog.registry import FORMATS

    catalog = _catalog(ctx)
    names = list(FORMATS)
    for arch in catalog.architectures.values():
        names += [f for f in arch.export_formats if f not in names]
    source = str(ctx.params.get("source") or "").partition(":")[0]
    model = catalog.models.get(source)
    if model is not None:
        arch = catalog.architectures[model.architecture]
        names = [f for f in arch.export_formats if f not in arch.unsupported_formats]
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]
