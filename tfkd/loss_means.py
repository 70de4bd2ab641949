"""The epoch means of several losses in one Keras metric."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfkd")
class LossMeans(keras.metrics.Metric):
    """Weighted means (or sums) of several named scalars, kept in two vector
    variables: one update per step whatever the number of losses, where a
    `keras.metrics.Mean` per loss costs two variable updates each.

    `result()` is a dict, so Keras logs each name as its own metric.

    Args:
        names: the reported names, one per value given to `update_state`.
        sums: names reported as weighted sums instead of means (a count of
            events, say). Defaults to none.
        name: the metric's own name. Defaults to "loss_means".
        **kwargs: passed to `keras.metrics.Metric`.

    Raises:
        ValueError: for no names, repeated names, or a sum name that is not
            one of `names`.

    Example:

    ```python
    means = tfkd.loss_means.LossMeans(["student_loss", "soft_labels", "skipped"], sums=["skipped"])
    means.update_state([0.5, 2.0, 0.0], [128.0, 128.0, 1.0])
    means.update_state([0.7, 1.0, 1.0], [128.0, 128.0, 1.0])
    means.result()  # {"student_loss": 0.6, "soft_labels": 1.5, "skipped": 1.0}
    ```
    """

    def __init__(self, names, sums=(), name="loss_means", **kwargs):
        super().__init__(name=name, **kwargs)
        names, sums = list(names), list(sums)
        if not names or len(set(names)) != len(names):
            raise ValueError(f"LossMeans needs distinct names, got {names!r}.")
        if set(sums) - set(names):
            raise ValueError(f"LossMeans: sums {sorted(set(sums) - set(names))} are not among the names {names}.")
        self.names, self.sums = names, sums
        self._is_sum = tf.constant([n in sums for n in names])
        shape = (len(names),)
        self.totals = self.add_variable(shape=shape, initializer="zeros", name="totals")
        self.weights_seen = self.add_variable(shape=shape, initializer="zeros", name="weights")

    def update_state(self, values, sample_weight):
        """Adds `values * sample_weight` and `sample_weight` (vectors with one
        entry per name, or a scalar weight for all).
        """
        values = tf.cast(tf.stack(values) if isinstance(values, (list, tuple)) else values, self.dtype)
        weight = tf.broadcast_to(tf.cast(sample_weight, self.dtype), tf.shape(values))
        self.totals.assign_add(values * weight)
        self.weights_seen.assign_add(weight)

    def result(self):
        """`{name: mean}` of every tracked value (sums for the names in `sums`)."""
        means = tf.math.divide_no_nan(self.totals, self.weights_seen)
        values = tf.where(self._is_sum, self.totals, means)
        return {n: values[i] for i, n in enumerate(self.names)}

    def reset_state(self):
        """Zeroes the running sums (Keras calls it at each epoch's start)."""
        self.totals.assign(tf.zeros_like(self.totals))
        self.weights_seen.assign(tf.zeros_like(self.weights_seen))

    def get_config(self):
        """The tracked names and settings, for `from_config`."""
        return {**super().get_config(), "names": self.names, "sums": self.sums}
