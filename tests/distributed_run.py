"""Runs a few Distiller steps under a tf.distribute strategy (subprocess
helper of distributed_test.py: devices must be set before TF starts).

    python tests/distributed_run.py --mode=mirrored --precision=float32 --out=w.npz
    python tests/distributed_run.py --mode=multiworker --index=0 --ports=p0,p1 --out=w0.npz
    python tests/distributed_run.py --mode=single --out=w.npz
"""

import argparse
import json
import os

GLOBAL_BATCH, STEPS = 16, 3


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["mirrored", "multiworker", "single"], required=True)
    p.add_argument("--precision", default="float32")
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--ports", default="")
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--out", required=True)
    p.add_argument("--loss", choices=["kd+hint", "crd"], default="kd+hint")
    return p.parse_args()


def main():
    args = parse()
    if args.mode == "multiworker":
        ports = args.ports.split(",")
        os.environ["TF_CONFIG"] = json.dumps(
            {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": args.index}}
        )
    import keras
    import numpy as np
    import tensorflow as tf

    import tfkd

    if args.mode == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    keras.mixed_precision.set_dtype_policy(args.precision)

    def models():
        keras.utils.set_random_seed(0)
        i = keras.Input((8, 8, 1))
        h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="t_feat")(i)
        h = keras.layers.GlobalAveragePooling2D()(h)
        teacher = keras.Model(i, keras.layers.Dense(5, dtype="float32", name="t_logits")(h), name="teacher")
        i = keras.Input((8, 8, 1))
        h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="s_feat")(i)
        h = keras.layers.GlobalAveragePooling2D()(h)
        student = keras.Model(i, keras.layers.Dense(5, dtype="float32", name="s_logits")(h), name="student")
        return teacher, student

    rng = np.random.default_rng(0)
    x = rng.normal(size=(GLOBAL_BATCH * args.steps, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 5, len(x))

    if args.mode == "mirrored":
        strategies = {
            "single": tf.distribute.OneDeviceStrategy("/cpu:0"),
            "mirrored": tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
        }
    elif args.mode == "multiworker":
        strategies = {"multiworker": tf.distribute.MultiWorkerMirroredStrategy()}
    else:
        strategies = {"single": tf.distribute.get_strategy()}

    out = {}
    for name, strategy in strategies.items():
        with strategy.scope():
            teacher, student = models()
            if args.loss == "crd":
                terms = [tfkd.losses.CRD(feature_dim=4, negatives=8, num_examples=len(x))]
            else:
                terms = [
                    tfkd.losses.SoftLabels(2.0, weight=0.7),
                    tfkd.losses.FeatureHint("t_feat", "s_feat", weight=0.5),
                ]
            distiller = tfkd.Distiller(teacher, student, losses=terms, student_loss_weight=0.3)
            distiller.compile(
                optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            )
        if args.loss == "crd":  # each example with its index, in order
            inputs = {"tfkd_inputs": x, "tfkd_index": np.arange(len(x), dtype="int64")}
            dataset = tf.data.Dataset.from_tensor_slices((inputs, y)).batch(GLOBAL_BATCH)
        else:
            dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
        if name == "multiworker":
            # Keras distributes the global batch: each worker takes its half.
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            dataset = dataset.with_options(options)
        for v in distiller.trainable_weights:
            out[f"{name}/initial/{v.path}"] = keras.ops.convert_to_numpy(v)
        history = distiller.fit(dataset, epochs=1, steps_per_epoch=args.steps, verbose=0)
        for k, v in history.history.items():
            out[f"{name}/metric/{k}"] = np.asarray(v)
        for v in distiller.trainable_weights:
            out[f"{name}/{v.path}"] = keras.ops.convert_to_numpy(v)
        for layer in distiller.adapters:  # CRD's memory banks and normalisers
            for v in layer.non_trainable_weights:
                out[f"{name}/state/{v.path}"] = keras.ops.convert_to_numpy(v)
        out[f"{name}/replicas"] = np.asarray(strategy.num_replicas_in_sync)
        teacher_paths = {v.path for v in teacher.weights}
        out[f"{name}/teacher_trained"] = np.asarray(
            any(v.path in teacher_paths for v in distiller.trainable_weights + distiller.optimizer.variables)
        )
    np.savez(args.out, **out)


if __name__ == "__main__":
    main()
