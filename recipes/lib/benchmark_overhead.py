"""Library side of `recipes/benchmark_overhead.py`: what consistent teaching
from cached views costs over the student's own `fit`, across student sizes.

On a small student a step is short, so the Distiller's fixed per-step work
(the non-finite guard, the loss means, the replay of cached teacher outputs)
weighs most. Each size is timed in paired rounds (one epoch of each, in
alternation, the order reversed every other round); the ratio is the median
over rounds of the two epochs' ratio, which cancels the machine's drift.
"""

import os
import statistics

import keras
import numpy as np

from recipes.lib import measure
from tfkd import data as data_lib
from tfkd import losses, models
from tfkd.distiller import Distiller
from tfkd.teacher_cache import cache_teacher_views

# Students of about 5k to 120k parameters, from one family (cnn_small).
WIDTHS = (12, 24, 48, 64)
TEMPERATURE, ALPHA = 2.0, 0.5
VIEWS, TOP_K = 8, 5
TARGET = 1.10  # cached views at most 10% over student.fit


def _compile(model):
    loss = keras.losses.CategoricalCrossentropy(from_logits=True)  # mixup labels
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    return model


def measure_width(width, x, y, batch_size, steps, rounds, teacher):
    """One row: `student.fit` and kd on cached views, same augmented batches.

    Returns:
        A dict: width, params, both epochs' median seconds, the median paired
        ratio and its range.
    """
    spec = dict(input_shape=x.shape[1:], num_classes=int(y.max()) + 1)
    aug = data_lib.Augment(shift=2, flip=True, mixup=0.2, num_classes=spec["num_classes"])
    n = steps * batch_size
    examples = (x[:n], y[:n].astype("int64"))
    keras.utils.set_random_seed(1)
    alone = _compile(models.get("cnn_small", **spec, width=width))
    augmented, _ = data_lib.seeded_epochs(examples, batch_size, steps_per_epoch=steps, augment=aug)
    keras.utils.set_random_seed(1)
    student = models.get("cnn_small", **spec, width=width)
    distiller = Distiller(
        teacher, student, losses=[losses.SoftLabels(TEMPERATURE, weight=1 - ALPHA)], student_loss_weight=ALPHA
    )
    _compile(distiller)
    views, _ = cache_teacher_views(
        distiller, examples, batch_size, augment=aug, views=VIEWS, top_k=TOP_K, steps_per_epoch=steps, verbose=0
    )
    own, cached = measure.interleaved_epochs([alone, distiller], [augmented, views], steps, rounds)
    ratios = sorted(c / o for c, o in zip(cached, own))
    return {
        "width": width,
        "params": student.count_params(),
        "student_fit_s": statistics.median(own),
        "cached_views_s": statistics.median(cached),
        "ratio": statistics.median(ratios),
        "low": ratios[0],
        "high": ratios[-1],
    }


# CRD settings timed against plain kd: the paper's 16,384 negatives and the
# recipes' default of 4,096.
CRD_NEGATIVES = (16384, 4096)
CRD_TARGET = 1.15  # a CRD epoch at most 15% over a kd epoch


def measure_crd(x, y, batch_size, steps, rounds, teacher, width=16, negatives=CRD_NEGATIVES):
    """kd against kd + CRD, the teacher online in both, on the same indexed
    batches (`cnn_small` of `width`), in paired rounds.

    Returns:
        One dict per CRD setting: negatives, both epochs' median seconds,
        the median paired ratio and its range.
    """
    spec = dict(input_shape=x.shape[1:], num_classes=int(y.max()) + 1)
    n = steps * batch_size
    indexed, _ = data_lib.seeded_epochs(
        (x[:n], y[:n].astype("int64")), batch_size, steps_per_epoch=steps, with_indices=True
    )

    def distiller(extra):
        keras.utils.set_random_seed(1)
        student = models.get("cnn_small", **spec, width=width)
        terms = [losses.SoftLabels(TEMPERATURE, weight=1 - ALPHA), *extra]
        d = Distiller(teacher, student, losses=terms, student_loss_weight=ALPHA)
        d.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(True))
        return d

    kd = distiller([])
    crds = [distiller([losses.CRD(negatives=k, num_examples=n)]) for k in negatives]
    seconds = measure.interleaved_epochs([kd, *crds], [indexed] * (1 + len(crds)), steps, rounds)
    rows = []
    for k, sec in zip(negatives, seconds[1:]):
        ratios = sorted(c / o for c, o in zip(sec, seconds[0]))
        rows.append(
            {
                "negatives": k,
                "kd_s": statistics.median(seconds[0]),
                "crd_s": statistics.median(sec),
                "ratio": statistics.median(ratios),
                "low": ratios[0],
                "high": ratios[-1],
            }
        )
    return rows


def run(config, workdir, print_fn=print):
    """`recipes/benchmark_overhead.py`: `measure_overhead` with a config of
    `recipes/configs/benchmark_overhead.py` (`widths`, `batch_size`,
    `steps`, `rounds`, `smoke`); writes `overhead.md` into `workdir`.

    Returns:
        What `measure_overhead` returns.

    Raises:
        ValueError: for sizes below 1.
    """
    widths = tuple(int(w) for w in config.widths)
    if not widths or min(widths) < 1 or min(config.batch_size, config.steps, config.rounds) < 1:
        raise ValueError("--config.widths, batch_size, steps and rounds must be whole numbers >= 1.")
    lines = []
    out = measure_overhead(widths, config.batch_size, config.steps, config.rounds, config.smoke, lines.append)
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "overhead.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print_fn("\n".join(lines))
    return out


def measure_overhead(widths=WIDTHS, batch_size=128, steps=40, rounds=10, smoke=False, print_fn=print, crd=True):
    """Times every width and returns the rows (and prints the table).

    Args:
        widths: `cnn_small` widths (4.5k parameters at 12, ~110k at 64).
        batch_size, steps: the batch and the steps of a timed epoch.
        rounds: paired rounds per width.
        smoke: random data and tiny sizes (tests).
        print_fn: where the table goes.

    Returns:
        A list of row dicts (see `measure_width`).
    """
    if smoke:
        rng = np.random.default_rng(0)
        x = rng.random((64, 28, 28, 1), dtype=np.float32)
        y = rng.integers(0, 10, 64)
        batch_size, steps, rounds = 16, 2, 1
    else:
        arrays = data_lib.load_arrays("fashion_mnist")
        x, y = arrays["train"]
        x = data_lib.to_float(x)
    keras.utils.set_random_seed(0)
    teacher = models.get("cnn_teacher", input_shape=x.shape[1:], num_classes=10)
    rows = [measure_width(w, x, y, batch_size, steps, rounds, teacher) for w in widths]
    print_fn(format_table(rows, batch_size, steps, rounds))
    if crd:
        negatives = (16,) if smoke else CRD_NEGATIVES
        crd_rows = measure_crd(x, y, batch_size, steps, rounds, teacher, negatives=negatives)
        print_fn(format_crd(crd_rows, batch_size, steps, rounds))
        rows = rows + crd_rows
    return rows


def format_table(rows, batch_size, steps, rounds):
    lines = [
        f"cnn_small students, batch {batch_size}, {steps} steps per epoch, shifts + flips + mixup; kd on {VIEWS} "
        f"cached views (top-{TOP_K}) against student.fit on the same augmented batches; median of {rounds} "
        "paired rounds.",
        "",
        "| width | parameters | student.fit epoch | cached-views epoch | ratio (range) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['width']} | {r['params']:,} | {r['student_fit_s']:.3f} s | {r['cached_views_s']:.3f} s | "
            f"{r['ratio']:.3f}× ({r['low']:.3f}–{r['high']:.3f}) |"
        )
    worst = max(r["ratio"] for r in rows)
    lines.append("")
    lines.append(f"Largest ratio {worst:.3f}× (target ≤ {TARGET:.2f}×).")
    return "\n".join(lines)


def format_crd(rows, batch_size, steps, rounds):
    lines = [
        "",
        f"CRD's cost: kd + CRD (feature_dim 128, memory bank over the {steps * batch_size:,} timed examples) "
        f"against kd alone, teacher online in both, cnn_small w16, batch {batch_size}; median of {rounds} paired "
        "rounds.",
        "",
        "| negatives | kd epoch | kd + CRD epoch | ratio (range) |",
        "|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['negatives']:,} | {r['kd_s']:.3f} s | {r['crd_s']:.3f} s | "
            f"{r['ratio']:.3f}× ({r['low']:.3f}–{r['high']:.3f}) |"
        )
    lines.append("")
    lines.append(f"Target: ≤ {CRD_TARGET:.2f}×.")
    return "\n".join(lines)
