"""The custom training loop of ``--strategy mirrored|multi-worker``.

Keras 3.15's ``model.fit`` fails under ``MultiWorkerMirroredStrategy`` on the TensorFlow
backend (keras-team/keras#20585: per-replica values reach ops that expect tensors), so the
distributed path trains with ``strategy.run`` over a ``tf.function`` step, using the compiled
model's loss and optimizer, and drives the runner's Keras callbacks (checkpoints, early
stopping, progress, TensorBoard) through a public ``keras.callbacks.CallbackList``.

What makes it match a single-process run with the same global batch:

- **Data**: every worker iterates the runner's stream of *global* batches (the same seeded
  per-epoch shuffle, an ordinary local tf.data iterator), but reads only its own rows of
  each global batch (``training_stream(part=(w, W))``: files are opened by the worker that
  needs them), and hands each of its replicas that replica's rows with
  ``strategy.experimental_distribute_values_from_function``: replica ``r`` of ``R`` takes
  global rows ``[B*r//R, B*(r+1)//R)``, so a batch that does not divide evenly is split too
  and no row is dropped or repeated. The split is explicit, so no tf.data
  auto-sharding is involved. (A distributed dataset iterator was tried first: under
  ``MultiWorkerMirroredStrategy`` destroying it at the end of training blocked for 5-25 s,
  once until the peer had exited.)
- **Loss**: each replica sums its unreduced loss terms (the compiled loss rebuilt with
  ``reduction=None``) and divides by the *global* number of terms in the step (an
  all-reduce); the optimizer sums gradients across replicas, so the update is the gradient
  of the global batch mean, as in ``fit``. Regularisation losses are divided by the number
  of replicas.
- **Metrics**: predictions and labels are gathered from all replicas (``strategy.gather``)
  and fed to fresh instances of the task's metrics, so ``accuracy`` etc. are global.
  Validation is computed on every worker with the (identical) local weights.
- **Stopping**: after each epoch the workers all-reduce (sum) their ``stop_training`` flags,
  so all of them stop at the same epoch and none waits forever in a collective.
"""

from __future__ import annotations

from typing import Any

from zoo.errors import ZooError


class DistributedError(ZooError):
    """A distributed run that lost a worker or cannot start its cluster."""


def first_line(exc: BaseException) -> str:
    """The most telling line of a (TensorFlow) error message."""
    text = str(getattr(exc, "message", None) or exc).strip()
    skip = ("Graph execution error", "Detected at node", "File ", "Additional GRPC")
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(skip):
            return line
    return type(exc).__name__


class DistributedLoop:
    """Train ``model`` (built in ``dist``'s scope) for ``config``'s epochs."""

    def __init__(self, dist: Any, model: Any, config: Any, task: Any) -> None:
        import tensorflow as tf

        self.dist = dist
        self.strategy = dist.strategy
        self.model = model
        self.config = config
        self.loss_fn = per_example_loss(model.loss)
        self.train_metrics = task.metrics(config)
        self.val_metrics = task.metrics(config)
        self.replicas = float(self.strategy.num_replicas_in_sync)
        self._train_step = tf.function(self._distributed_step, reduce_retracing=True)
        self._eval_step = tf.function(self._local_eval_step, reduce_retracing=True)
        self._stop_step = tf.function(self._count_stops)
        self.global_batch = 0  # rows of a global batch (0: the batch's own size)
        self.offset = 0  # the first global row this worker reads

    # ----------------------------------------------------------------------------- steps
    def _replica_step(self, batch: tuple[Any, Any]) -> tuple[Any, ...]:
        import tensorflow as tf

        x, y = batch
        model = self.model
        ctx = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss_sum, terms = loss_terms(self.loss_fn(y, pred), y)
            all_terms = ctx.all_reduce(tf.distribute.ReduceOp.SUM, terms)
            reg = _regularization(model)
            objective = loss_sum / tf.maximum(all_terms, 1.0) + reg / self.replicas
        grads = tape.gradient(objective, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss_sum, terms, reg, y, pred

    def _distributed_step(self, batch: Any) -> tuple[Any, ...]:
        import tensorflow as tf

        s = self.strategy
        loss_sum, n, reg, ys, preds = s.run(self._replica_step, args=(batch,))
        sum_ = tf.distribute.ReduceOp.SUM
        return (
            s.reduce(sum_, loss_sum, axis=None),
            s.reduce(sum_, n, axis=None),
            s.reduce(tf.distribute.ReduceOp.MEAN, reg, axis=None),
            tf.nest.map_structure(lambda t: s.gather(t, axis=0), ys),
            s.gather(preds, axis=0),
        )

    def _local_eval_step(self, x: Any, y: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        pred = self.model(x, training=False)
        loss_sum, terms = loss_terms(self.loss_fn(y, pred), y)
        return loss_sum / tf.maximum(terms, 1.0), pred

    # ----------------------------------------------------------------------------- data
    def split(self, x: Any, y: Any) -> Any:
        """This worker's replicas' rows of the global batch, as per-replica values: replica
        ``r`` of ``R`` gets global rows ``[B*r//R, B*(r+1)//R)``. ``(x, y)`` holds only this
        worker's rows of the global batch (from ``self.offset`` on), read by index."""
        import tensorflow as tf

        total = self.strategy.num_replicas_in_sync
        rows = self.global_batch or tf.shape(tf.nest.flatten(y)[0])[0]
        offset = self.offset

        def rows_of(ctx: Any) -> Any:
            r = ctx.replica_id_in_sync_group
            start, end = rows * r // total - offset, rows * (r + 1) // total - offset
            return tf.nest.map_structure(lambda t: t[start:end], (x, y))

        return self.strategy.experimental_distribute_values_from_function(rows_of)

    def _check_replica_ids(self, part: tuple[int, int]) -> None:
        """Worker ``w`` of ``W`` reads the rows of global replicas ``[w*L, (w+1)*L)``;
        refuse to train when TensorFlow numbers this worker's replicas otherwise (the
        slices would silently miss rows)."""
        import tensorflow as tf

        worker, workers = part
        ids = self.strategy.experimental_local_results(
            self.strategy.run(lambda: tf.distribute.get_replica_context().replica_id_in_sync_group)
        )
        local = len(ids)
        want = list(range(worker * local, (worker + 1) * local))
        got = [int(i) for i in ids]
        if got != want or local * workers != self.strategy.num_replicas_in_sync:
            raise DistributedError(
                f"worker {worker} of {workers} has replicas {got}, expected {want}",
                "start the workers with the cluster order of TF_CONFIG (chief first)",
            )

    # ------------------------------------------------------------------------------ loop
    def fit(self, splits: Any, callbacks: list[Any], initial_epoch: int) -> dict[str, float]:
        """Epochs ``initial_epoch..epochs-1``; returns the last epoch's logs."""
        import keras
        import tensorflow as tf

        from zoo.data.pipeline import shard_rows

        model = self.model
        epochs = int(self.config.train["epochs"])
        steps = int(splits.steps_per_epoch)
        part = tuple(getattr(splits, "part", (0, 1)))
        self.global_batch = int(getattr(splits, "batch_size", 0))
        self.offset = shard_rows(self.global_batch, part)[0] if self.global_batch else 0
        if part[1] > 1:
            self._check_replica_ids(part)
        hooks = keras.callbacks.CallbackList(list(callbacks), model=model, epochs=epochs)
        model.stop_training = False
        logs: dict[str, float] = {}
        epoch = initial_epoch
        hooks.on_train_begin()
        try:
            batches = iter(splits.train)  # global batches, the same on every worker
            for epoch in range(initial_epoch, epochs):
                hooks.on_epoch_begin(epoch)
                logs = self._train_epoch(batches, steps, hooks)
                if splits.validation is not None:
                    logs.update(self._validate(splits.validation))
                hooks.on_epoch_end(epoch, logs)
                if self._any_worker_stops(model.stop_training):
                    break
        except tf.errors.OpError as exc:
            where = "the run folder" if self.dist.is_chief else "the chief's run folder"
            raise DistributedError(
                f"distributed training failed in epoch {epoch + 1}: a worker died or became "
                f"unreachable ({type(exc).__name__}: {first_line(exc)[:300]})",
                f"{where} keeps the last completed epoch; restart all workers with "
                "`zoo train --resume RUN --strategy multi-worker` (or `zoo worker --resume RUN`)",
            ) from None
        hooks.on_train_end(logs)
        return logs

    def _train_epoch(self, batches: Any, steps: int, hooks: Any) -> dict[str, float]:
        for metric in self.train_metrics:
            metric.reset_state()
        total = count = 0.0
        for step in range(steps):
            hooks.on_train_batch_begin(step)
            x, y = next(batches)
            loss_sum, terms, reg, ys, preds = self._train_step(self.split(x, y))
            # As fit: the batch's mean loss, averaged over the epoch weighted by batch size.
            rows = float(len(tf_nest_first(ys)))
            total += (float(loss_sum) / max(float(terms), 1.0) + float(reg)) * rows
            count += rows
            for metric in self.train_metrics:
                metric.update_state(ys, preds)
            hooks.on_train_batch_end(step, {"loss": total / max(count, 1.0)})
        logs = {"loss": total / max(count, 1.0)}
        logs.update({m.name: float(m.result()) for m in self.train_metrics})
        return logs

    def _validate(self, stream: Any) -> dict[str, float]:
        for metric in self.val_metrics:
            metric.reset_state()
        total = count = 0.0
        reg = float(_regularization(self.model))
        for x, y in stream:
            mean_loss, pred = self._eval_step(x, y)
            rows = float(len(tf_nest_first(y)))
            total += (float(mean_loss) + reg) * rows
            count += rows
            for metric in self.val_metrics:
                metric.update_state(y, pred)
        logs = {"val_loss": total / max(count, 1.0)}
        logs.update({f"val_{m.name}": float(m.result()) for m in self.val_metrics})
        return logs

    def _any_worker_stops(self, stop: bool) -> bool:
        """True on every worker when any worker's callbacks asked to stop."""
        import tensorflow as tf

        return float(self._stop_step(tf.constant(1.0 if stop else 0.0))) > 0

    def _count_stops(self, flag: Any) -> Any:
        s = self.strategy
        return s.reduce(tf_sum(), s.run(lambda: tf_identity(flag)), axis=None)


def per_example_loss(loss: Any) -> Any:
    """The compiled loss without reduction: one value per example."""
    import keras

    if isinstance(loss, keras.losses.Loss):
        config = {**loss.get_config(), "reduction": None}
        return type(loss).from_config(config)
    if loss is None:
        raise ZooError("the model is not compiled with a loss", "compile it before training")
    return keras.losses.get(loss)


def loss_terms(values: Any, y: Any) -> tuple[Any, Any]:
    """(sum, number of terms) of a loss's unreduced values, so that sum/terms over all
    replicas is what Keras' ``sum_over_batch_size`` gives for the whole batch. A loss that
    is already a scalar (its last axis was the batch, e.g. rank-1 logits) counts as the mean
    of the replica's rows."""
    import tensorflow as tf

    values = tf.cast(values, tf.float32)
    if values.shape.rank == 0:
        rows = tf.cast(tf.shape(tf_nest_first(y))[0], tf.float32)
        return values * rows, rows
    return tf.reduce_sum(values), tf.cast(tf.size(values), tf.float32)


def tf_nest_first(structure: Any) -> Any:
    import tensorflow as tf

    return tf.nest.flatten(structure)[0]


def tf_sum() -> Any:
    import tensorflow as tf

    return tf.distribute.ReduceOp.SUM


def tf_identity(value: Any) -> Any:
    import tensorflow as tf

    return tf.identity(value)


def _regularization(model: Any) -> Any:
    import tensorflow as tf

    losses = model.losses
    return tf.add_n([tf.cast(v, tf.float32) for v in losses]) if losses else tf.zeros(())
