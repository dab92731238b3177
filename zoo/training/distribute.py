"""Distributed training on ``tf.distribute``: ``--strategy default|mirrored|multi-worker``.

The shared runner asks :func:`make_distribution` for a :class:`Distribution` and lets it
decide four things; everything else (data, split, callbacks, run folder) stays the runner's:

- **where the model lives**: built and compiled inside the strategy's scope
  (:meth:`Distribution.build_model`);
- **who writes the run folder**: only the chief. Other workers train into a private scratch
  folder in the system temp dir, deleted when they exit, so the run folder has one writer;
- **how an epoch is trained**: Keras 3.15's ``model.fit`` does not work under
  ``MultiWorkerMirroredStrategy`` on the TensorFlow backend (keras-team/keras#20585), so
  both distributed strategies use one custom loop (:mod:`zoo.training.distributed_loop`) that drives
  the runner's Keras callbacks itself;
- **which model is returned**: after training, a plain (undistributed) copy with the trained
  weights, used for the test metrics, the saved weights and ``Run.model``.

With ``default`` every method is a pass-through, so single-process training is unchanged.
TensorFlow is imported inside functions only: ``import zoo`` stays light.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo.errors import ConfigError
from zoo.training.distributed_loop import DistributedError, first_line

STRATEGIES = ("default", "mirrored", "multi-worker")

# A worker that dies is detected by the coordination service (its gRPC connection resets,
# or its heartbeats stop) and every other worker's next collective fails within seconds.
# ZOO_COLLECTIVE_TIMEOUT=<seconds> also bounds how long a collective waits for a peer that
# is alive but stuck. It is opt-in: in TensorFlow 2.21 each collective with a timeout leaves
# two threads behind (measured: ~120 threads per epoch of the tiny CNN), which crashes long
# runs, so use it only for short jobs.
TIMEOUT_ENV = "ZOO_COLLECTIVE_TIMEOUT"
# Directory where every worker saves its final weights as worker-<index>.npz (for tests
# and for checking that replicas agree); unset = nothing written.


def read_tf_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The parsed, checked ``TF_CONFIG`` of this process (cluster + this task)."""
    env = os.environ if env is None else env
    raw = env.get("TF_CONFIG", "").strip()
    if not raw:
        raise ConfigError(
            "--strategy multi-worker needs TF_CONFIG (the cluster and this worker's task)",
            "set TF_CONFIG on every worker (see docs/distributed.md), or start local workers "
            "with `zoo worker NAME --workers 2`",
        )
    try:
        conf = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {exc}", "fix TF_CONFIG") from None
    cluster = conf.get("cluster") if isinstance(conf, dict) else None
    task = conf.get("task") if isinstance(conf, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ConfigError(
            "TF_CONFIG must have 'cluster' and 'task' entries",
            'e.g. {"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
            '"task": {"type": "worker", "index": 0}}',
        )
    kind, index = task.get("type"), task.get("index")
    if kind not in ("chief", "worker"):
        raise ConfigError(
            f"TF_CONFIG task type {kind!r} is not supported by --strategy multi-worker",
            "use task type 'worker' (index 0 is the chief) or 'chief'",
        )
    hosts = cluster.get(kind)
    if not isinstance(hosts, list) or not isinstance(index, int) or not 0 <= index < len(hosts):
        raise ConfigError(
            f"TF_CONFIG task {kind}:{index} is not in the cluster {cluster}",
            "give every process the same cluster and its own task index",
        )
    unknown = sorted(set(cluster) - {"chief", "worker"})
    if unknown:
        raise ConfigError(
            f"TF_CONFIG cluster has job(s) {unknown} that multi-worker training does not use",
            "list only 'worker' (and optionally one 'chief') hosts",
        )
    return conf


def is_chief_task(conf: Mapping[str, Any]) -> bool:
    """The chief is task ``chief:0``, or ``worker:0`` when the cluster has no chief job."""
    task = conf["task"]
    if task["type"] == "chief":
        return True
    return task["index"] == 0 and "chief" not in conf["cluster"]


def collective_timeout() -> int | None:
    """Seconds from ``ZOO_COLLECTIVE_TIMEOUT``, or None (no timeout) when unset."""
    raw = os.environ.get(TIMEOUT_ENV, "")
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r} is not a positive integer", "e.g. 120")
    return value


class Distribution:
    """What a strategy changes in a training run; pass-through for ``default``."""

    def __init__(
        self,
        name: str,
        strategy: Any = None,
        *,
        is_chief: bool = True,
        worker_index: int = 0,
        num_workers: int = 1,
    ) -> None:
        self.name = name
        self.strategy = strategy
        self.is_chief = is_chief
        self.worker_index = worker_index
        self.num_workers = num_workers
        self.public_dir: Path | None = None  # the chief's run folder, as this worker knows it
        self.scratch: Path | None = None

    @property
    def distributed(self) -> bool:
        return self.strategy is not None

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync) if self.strategy is not None else 1

    def scope(self) -> contextlib.AbstractContextManager:
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def describe(self, global_batch_size: int) -> dict[str, Any]:
        """How the global batch is split; recorded in run.toml and metrics.json."""
        replicas = self.replicas
        return {
            "strategy": self.name,
            "workers": self.num_workers,
            "replicas": replicas,
            "global_batch_size": int(global_batch_size),
            "per_replica_batch_size": -(-int(global_batch_size) // replicas),
        }

    # ------------------------------------------------------------------ model and folders
    def build_model(self, ref: Any, config: Any) -> Any:
        """Build and compile inside the strategy's scope; distributed runs also create the
        optimizer's variables there (a resume assigns into them)."""
        from zoo.building import build_model

        with self.scope():
            model = build_model(ref, config)
            if self.distributed:
                model.optimizer.build(model.trainable_variables)
        return model

    def run_dir(
        self, model_name: str, output: str | Path | None, resume: str | Path | None
    ) -> Path:
        """The folder this process writes: the run folder on the chief, a private scratch
        folder (seeded with the run's checkpoint when resuming) on every other worker."""
        from zoo.runs import new_run_dir

        if self.is_chief:
            return Path(resume) if resume is not None else new_run_dir(model_name, output)
        self.public_dir = Path(resume) if resume is not None else (output and Path(output))
        self.scratch = Path(tempfile.mkdtemp(prefix=f"zoo-worker{self.worker_index}-"))
        atexit.register(shutil.rmtree, self.scratch, True)
        if resume is not None:
            source = Path(resume)
            for name in ("run.toml", "data_state.json", "split.npz"):
                if (source / name).is_file():
                    shutil.copy2(source / name, self.scratch / name)
            if (source / "checkpoints").is_dir():
                shutil.copytree(source / "checkpoints", self.scratch / "checkpoints")
        return self.scratch

    def local_model(self, ref: Any, config: Any, model: Any) -> Any:
        """An undistributed, compiled copy of ``model`` (evaluation, saving, ``Run.model``)."""
        if not self.distributed:
            return model
        from zoo.building import build_model

        twin = build_model(ref, config)
        twin.set_weights([_as_numpy(w) for w in model.get_weights()])
        for mine, theirs in zip(twin.optimizer.variables, model.optimizer.variables, strict=True):
            mine.assign(_as_numpy(theirs))
        return twin

    def finish(self, run: Any) -> Any:
        """On a non-chief worker, delete the scratch folder and point ``run.path`` at the
        chief's run folder."""
        if not self.is_chief and self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            run.path = self.public_dir or self.scratch
        return run

    # ----------------------------------------------------------------------------- train
    def fit(
        self,
        model: Any,
        splits: Any,
        config: Any,
        callbacks: list[Any],
        initial_epoch: int,
        task: Any,
    ) -> None:
        """Train with the custom distributed loop (see :mod:`zoo.training.distributed_loop`)."""
        from zoo.training.distributed_loop import DistributedLoop

        DistributedLoop(self, model, config, task).fit(splits, callbacks, initial_epoch)


def _as_numpy(value: Any) -> Any:
    import numpy as np

    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def local_devices() -> list[str]:
    """The devices ``mirrored`` spreads over: every GPU, else every logical CPU device."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


# One strategy object per process and configuration, reused by every zoo.train call: a
# second MirroredStrategy in the same process reuses the first one's collective keys and
# fails ("Shape mismatch in the collective instance"), and collective ops (multi-worker)
# can be configured only once per process.
_STRATEGIES: dict[tuple[str, Any], Any] = {}


def make_distribution(name: str) -> Distribution:
    """The :class:`Distribution` for ``--strategy name``.

    ``multi-worker`` must be created before TensorFlow runs anything else in the process
    (it configures collective ops): the runner calls this before seeding or loading data.
    """
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}", "use one of: " + ", ".join(STRATEGIES))
    if name == "default":
        return Distribution(name)
    conf = read_tf_config() if name == "multi-worker" else {}
    import tensorflow as tf

    if name == "mirrored":
        devices = tuple(local_devices())
        if ("mirrored", devices) not in _STRATEGIES:
            _STRATEGIES["mirrored", devices] = tf.distribute.MirroredStrategy(devices=devices)
        return Distribution(name, _STRATEGIES["mirrored", devices])
    key = ("multi-worker", json.dumps(conf, sort_keys=True))
    joined = [k for k in _STRATEGIES if k[0] == "multi-worker"]
    if joined and joined[0] != key:
        raise DistributedError(
            "this process already joined another cluster (TF_CONFIG changed)",
            "start a new process for each cluster",
        )
    if key not in _STRATEGIES:
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.AUTO,
            timeout_seconds=collective_timeout(),
        )
        try:
            _STRATEGIES[key] = tf.distribute.MultiWorkerMirroredStrategy(
                communication_options=options
            )
        except (RuntimeError, ValueError, tf.errors.OpError) as exc:
            raise DistributedError(
                f"could not join the cluster in TF_CONFIG: {first_line(exc)}",
                "start every worker with the same cluster before TensorFlow runs anything else",
            ) from None
    strategy = _STRATEGIES[key]
    workers = sum(len(conf["cluster"].get(job, [])) for job in ("chief", "worker"))
    task = conf["task"]
    index = task["index"] + (1 if task["type"] == "worker" and "chief" in conf["cluster"] else 0)
    return Distribution(
        name,
        strategy,
        is_chief=is_chief_task(conf),
        worker_index=index,
        num_workers=workers,
    )
