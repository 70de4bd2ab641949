"""Library side of `recipes/benchmark_speed.py`: distillation step time
against the limit (one teacher forward + one student training step, written
by hand), against `keras.distillation`, with caching and XLA."""

import csv
import os
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from recipes.lib import benchmark_memory, measure
from recipes.lib.speed_pairs import ALPHA, PAIRS, TEMPERATURE, TOP_K, VIEWS, compile_args, tfkd_distiller
from tfkd import data as data_lib
from tfkd.teacher_cache import cache_size, cache_teacher_outputs, cache_teacher_views


def _ce(y, logits):
    return tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))


def _soft(t, s):
    log_p = tf.nn.log_softmax(t / TEMPERATURE)
    log_q = tf.nn.log_softmax(s / TEMPERATURE)
    kl = tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1)
    return TEMPERATURE**2 * tf.reduce_mean(kl)


def limit_step(teacher, student, hints=()):
    """The minimal hand-written distillation step: teacher forward, student
    forward/backward/update, with the same losses as the Distiller rows.

    Args:
        teacher, student: functional Keras models.
        hints: (teacher layer, student layer) pairs for mean-squared hints;
            a 1×1 convolution maps the student's channels when they differ.

    Returns:
        A `tf.function(x, y)` returning the loss.
    """
    t_feats = keras.Model(
        teacher.inputs, {"logits": teacher.output, **{t: teacher.get_layer(t).output for t, _ in hints}}
    )
    s_feats = keras.Model(
        student.inputs, {"logits": student.output, **{s: student.get_layer(s).output for _, s in hints}}
    )
    adapters = []
    for t, s in hints:
        t_ch, s_shape = teacher.get_layer(t).output.shape[-1], student.get_layer(s).output.shape
        adapters.append(keras.layers.Conv2D(t_ch, 1) if t_ch != s_shape[-1] else None)
        if adapters[-1] is not None:
            adapters[-1].build(s_shape)
    variables = student.trainable_variables + [v for a in adapters if a for v in a.trainable_variables]
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(variables)

    @tf.function
    def step(x, y):
        t_out = t_feats(x, training=False)
        with tf.GradientTape() as tape:
            s_out = s_feats(x, training=True)
            loss = ALPHA * _ce(y, s_out["logits"]) + (1 - ALPHA) * _soft(t_out["logits"], s_out["logits"])
            for a, (t, s) in zip(adapters, hints):
                loss += tf.reduce_mean(tf.square(t_out[t] - (a(s_out[s]) if a is not None else s_out[s])))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    return step


def _keras(teacher, student, pair, features=False):
    from keras import distillation  # Keras >= 3.12

    terms = [distillation.LogitsDistillation(TEMPERATURE, loss=keras.losses.KLDivergence())]
    weights = [1 - ALPHA]
    if features:
        terms += [distillation.FeatureDistillation("mse", t, s) for t, s in pair.hints]
        weights += [1.0] * len(pair.hints)
    return distillation.Distiller(teacher, student, terms, weights, student_loss_weight=ALPHA)


# Steps per timed epoch and timed epochs per row (after one warm-up epoch).
STEPS, REPEATS = 20, 3
# Rounds of the tfkd / keras.distillation duels (each round: one epoch each).
# 30: the paired median of 8 rounds moved by about 1.5% between runs.
DUEL_ROUNDS = 30


def _fit_seconds(model, dataset, steps, repeats):
    timer = measure.EpochTimer()
    model.fit(dataset, epochs=repeats + 1, steps_per_epoch=steps, callbacks=[timer], verbose=0)
    return measure.median_after_warmup(timer.seconds)


def paired_ratio(seconds, reference):
    """Median over rounds of `seconds[r] / reference[r]`, with its range:
    each round's two epochs ran back to back, so the ratio cancels the
    machine's drift between rounds."""
    ratios = sorted(a / b for a, b in zip(seconds, reference))
    return statistics.median(ratios), ratios[0], ratios[-1]


def run_pair(pair, x, y, batch_size, steps, repeats, include_keras=True, log=print, duel_rounds=DUEL_ROUNDS):
    """Times every row for one model pair.

    Args:
        pair: a `Pair`.
        x, y: training arrays (at least `steps * batch_size` examples).
        batch_size, steps: the batch and the steps per timed epoch.
        repeats: timed epochs (one more is run first as warm-up).
        include_keras: whether to time `keras.distillation` rows.
        log: where progress lines go.

    Returns:
        A list of row dicts: pair, row, seconds per epoch, examples/s,
        reference row, ratio to it, peak and added RSS in MiB.
    """
    n = steps * batch_size
    # The recipes' own pipeline: examples in memory, a fresh order per epoch.
    data, _ = data_lib.seeded_epochs((x[:n], y[:n].astype("int64")), batch_size, steps_per_epoch=steps)
    base = data_lib.make_dataset(x[:n], y[:n], batch_size)  # ordered, for the cache
    spec = dict(input_shape=x.shape[1:], num_classes=int(y.max()) + 1)
    keras.utils.set_random_seed(0)
    teacher, _ = pair.build(**spec)
    rows = []

    def fresh_student():
        keras.utils.set_random_seed(1)
        return pair.build(**spec)[1]

    def record(name, seconds, reference=None, probe=None, rounds=None):
        row = {
            "pair": pair.name,
            "row": name,
            "epoch_s": seconds,
            "examples_per_s": n / seconds,
            "reference": reference or "",
            "ratio": None,
            "peak_rss_mb": probe.peak_mb if probe else None,
            "added_rss_mb": probe.peak_mb - probe.start_mb if probe else None,
            "rounds": rounds,
        }
        if reference:
            ref = next(r for r in rows if r["row"] == reference)
            row["ratio"] = seconds / ref["epoch_s"]
        rows.append(row)
        log(f"  {pair.name:6s} {name:42s} {n / seconds:9.0f} ex/s")

    def fit_row(name, model, reference, dataset=data, **compile_kwargs):
        model.compile(**compile_args(**compile_kwargs))
        with measure.PeakRss() as probe:
            seconds = _fit_seconds(model, dataset, steps, repeats)
        record(name, seconds, reference, probe)

    iterator = iter(data)
    with measure.PeakRss() as probe:
        record(
            "input pipeline alone",
            measure.time_loop(tf.function(lambda a, b: tf.reduce_sum(a)), iterator, steps, repeats),
            probe=probe,
        )
    infer = tf.function(lambda a, b: teacher(a, training=False))
    with measure.PeakRss() as probe:
        record("teacher inference", measure.time_loop(infer, iterator, steps, repeats), probe=probe)
    fit_row("student only (student.fit)", fresh_student(), None)
    student = fresh_student()
    with measure.PeakRss() as probe:
        record(
            "limit: kd (hand-written tf.function)",
            measure.time_loop(limit_step(teacher, student), iterator, steps, repeats),
            probe=probe,
        )
    student = fresh_student()
    with measure.PeakRss() as probe:
        record(
            "limit: kd + 2 hints (hand-written)",
            measure.time_loop(limit_step(teacher, student, pair.hints), iterator, steps, repeats),
            probe=probe,
        )
    # tfkd against keras.distillation on the same work, timed in alternation
    # (one epoch each, in turn) so that drift in the machine's speed over the
    # run falls on both alike.
    duels = [[("tfkd kd", tfkd_distiller(teacher, fresh_student(), pair), "limit: kd (hand-written tf.function)")]]
    duels.append(
        [
            (
                "tfkd kd + 2 hints",
                tfkd_distiller(teacher, fresh_student(), pair, True),
                "limit: kd + 2 hints (hand-written)",
            )
        ]
    )
    if include_keras:
        duels[0].append(
            ("keras.distillation kd", _keras(teacher, fresh_student(), pair), "limit: kd (hand-written tf.function)")
        )
        if pair.name == "wide":
            duels[1].append(
                (
                    "keras.distillation kd + 2 features",
                    _keras(teacher, fresh_student(), pair, features=True),
                    "limit: kd + 2 hints (hand-written)",
                )
            )
    for duel in duels:
        for _, model, _ in duel:
            model.compile(**compile_args())
        with measure.PeakRss() as probe:
            rounds = measure.interleaved_epochs([model for _, model, _ in duel], data, steps, duel_rounds)
        for (name, _, reference), sec in zip(duel, rounds):
            record(name, statistics.median(sec), reference, probe, rounds=sec)
            if name != duel[0][0]:
                rows[-1]["versus"] = duel[0][0]  # the tfkd row it was timed against
    fit_row(
        "tfkd kd, jit_compile",
        tfkd_distiller(teacher, fresh_student(), pair),
        "limit: kd (hand-written tf.function)",
        jit_compile=True,
    )
    distiller = tfkd_distiller(teacher, fresh_student(), pair)
    cached = cache_teacher_outputs(distiller, base).repeat()
    fit_row("tfkd kd, cached teacher outputs", distiller, "student only (student.fit)", dataset=cached)
    # Consistent teaching on augmented data (shifts, flips, mixup): online
    # (the teacher runs every step) against cached views (it never does).
    aug = data_lib.Augment(shift=2, flip=True, mixup=0.2, num_classes=spec["num_classes"])
    examples = (x[:n], y[:n].astype("int64"))
    augmented, _ = data_lib.seeded_epochs(examples, batch_size, steps_per_epoch=steps, augment=aug)
    fit_row("student only, augmented (student.fit)", fresh_student(), None, dataset=augmented, categorical=True)
    fit_row(
        "tfkd kd online, augmented",
        tfkd_distiller(teacher, fresh_student(), pair),
        "student only, augmented (student.fit)",
        dataset=augmented,
        categorical=True,
    )
    distiller = tfkd_distiller(teacher, fresh_student(), pair)
    start = time.perf_counter()
    views, _ = cache_teacher_views(
        distiller, examples, batch_size, augment=aug, views=VIEWS, top_k=TOP_K, steps_per_epoch=steps, verbose=0
    )
    fill = time.perf_counter() - start
    fit_row(
        f"tfkd kd, cached views (K={VIEWS}, top-{TOP_K})",
        distiller,
        "student only, augmented (student.fit)",
        dataset=views,
        categorical=True,
    )
    size, _ = cache_size(distiller, n, VIEWS, TOP_K)
    rows[-1]["cache_fill_s"], rows[-1]["cache_mib"] = fill, size / 2**20
    online = next(r for r in rows if r["row"] == "tfkd kd online, augmented")["epoch_s"]
    saved = online - rows[-1]["epoch_s"]
    rows[-1]["break_even_epochs"] = fill / saved if saved > 0 else float("inf")
    log(
        f"  {pair.name:6s} cache fill {fill:.1f} s for {VIEWS} views ({size / 2**20:.1f} MiB); "
        f"online/cached {online / rows[-1]['epoch_s']:.2f}x; "
        f"break-even after {rows[-1]['break_even_epochs']:.1f} epochs"
    )
    return rows


def format_table(rows):
    """The rows as a Markdown table."""
    lines = ["| pair | row | examples/s | ratio | to | peak RSS | added RSS |", "|---|---|---:|---:|---|---:|---:|"]
    for r in rows:
        ratio = f"{r['ratio']:.3f}×" if r["ratio"] is not None else ""
        peak = f"{r['peak_rss_mb']:,.0f} MiB" if r["peak_rss_mb"] is not None else ""
        added = f"{r['added_rss_mb']:,.0f} MiB" if r["added_rss_mb"] is not None else ""
        lines.append(
            f"| {r['pair']} | {r['row']} | {r['examples_per_s']:,.0f} | {ratio} | {r['reference']} | {peak} | {added} |"
        )
    return "\n".join(lines)


def format_duels(rows):
    """One line per keras.distillation row: the paired time ratio of the tfkd
    row it was timed against to it, over the rounds (below 1: tfkd faster)."""
    lines = []
    for r in rows:
        if r.get("versus") and r.get("rounds"):
            mine = next(t for t in rows if t["pair"] == r["pair"] and t["row"] == r["versus"])
            median, low, high = paired_ratio(mine["rounds"], r["rounds"])
            lines.append(
                f"- {r['pair']}, {mine['row']} vs {r['row']}: tfkd's epoch time / keras.distillation's in the same "
                f"round, median {median:.3f} (range {low:.3f}–{high:.3f}, {len(r['rounds'])} rounds)"
            )
    return "\n".join(lines)


def check_args(pairs, batch_size, steps, repeats):
    """Raises a one-line ValueError for an unknown pair or a size < 1."""
    unknown = [p for p in pairs if p not in PAIRS]
    if unknown:
        raise ValueError(f"Unknown pair(s) {unknown}; expected names from {list(PAIRS)}.")
    if min(batch_size, steps, repeats) < 1:
        raise ValueError(f"batch_size, steps and repeats must be >= 1, got {batch_size}, {steps}, {repeats}.")


def run(config, workdir, print_fn=print):
    """`recipes/benchmark_speed.py`: `measure_speed` with a config of
    `recipes/configs/benchmark_speed.py` (`pairs`, `batch_size`, `steps`,
    `repeats`, `duel_rounds`, `keras`, `memory_examples`, `only_memory`,
    `smoke`).

    Returns:
        The list of row dicts.

    Raises:
        ValueError: for an unknown pair name or a non-positive size.
    """
    return measure_speed(
        workdir,
        tuple(p.strip() for p in config.pairs.split(",") if p.strip()),
        config.batch_size,
        config.steps,
        config.repeats,
        config.smoke,
        config.keras,
        print_fn,
        memory_examples=0 if config.smoke else config.memory_examples,
        only_memory=config.only_memory,
        duel_rounds=config.duel_rounds,
    )


def measure_speed(
    workdir,
    pairs=("small", "wide"),
    batch_size=256,
    steps=STEPS,
    repeats=REPEATS,
    smoke=False,
    include_keras=True,
    print_fn=print,
    memory_examples=0,
    only_memory=False,
    duel_rounds=DUEL_ROUNDS,
):
    """Runs the speed benchmark and writes `speed.md` and `speed.csv`.

    Args:
        workdir: output folder.
        pairs: names from `PAIRS`.
        batch_size, steps, repeats: batch, steps per timed epoch and timed
            epochs (after one warm-up epoch per row).
        smoke: a tiny run for tests (batch 16, 2 steps, 1 repeat, Fashion-MNIST
            replaced by random images when it is not installed).
        include_keras: also time `keras.distillation`.
        print_fn: where progress and the table go.
        memory_examples: > 0: also measure peak memory of the student alone
            and of kd on cached views over this many training examples, each
            in its own process (`memory.md`).
        only_memory: skip the timed rows (memory is not disturbed by other
            jobs on the machine, timing is).
        duel_rounds: rounds of the tfkd / keras.distillation duels (one
            epoch each per round, timed in alternation).

    Returns:
        The list of row dicts.

    Raises:
        ValueError: for an unknown pair name or a non-positive size.
    """
    check_args(pairs, batch_size, steps, repeats)
    if duel_rounds < 1:
        raise ValueError(f"duel_rounds must be >= 1, got {duel_rounds}.")
    rows = []
    if not only_memory:
        rows = _timed_rows(pairs, batch_size, steps, repeats, smoke, include_keras, workdir, print_fn, duel_rounds)
    if memory_examples:
        memory = benchmark_memory.format_memory(benchmark_memory.memory_rows(memory_examples, log=print_fn))
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, "memory.md"), "w") as f:
            f.write(memory + "\n")
        print_fn(memory)
    return rows


def _timed_rows(pairs, batch_size, steps, repeats, smoke, include_keras, workdir, print_fn, duel_rounds):
    """Times every pair's rows and writes `speed.md` and `speed.csv`."""
    if smoke:
        batch_size, steps, repeats, duel_rounds = 16, 2, 1, 2
    try:
        x, y = data_lib.load_arrays("fashion_mnist")["train"]
        x = data_lib.to_float(x)
    except data_lib.DatasetNotFoundError:
        if not smoke:
            raise
        rng = np.random.default_rng(0)
        x, y = rng.random((64, 28, 28, 1), np.float32), rng.integers(0, 10, 64)
    rows = []
    for name in pairs:
        print_fn(f"pair {name}: batch {batch_size}, {steps} steps per epoch, median of {repeats} epochs")
        rows += run_pair(PAIRS[name], x, y, batch_size, steps, repeats, include_keras, print_fn, duel_rounds)
    os.makedirs(workdir, exist_ok=True)
    table = format_table(rows)
    duels = format_duels(rows)
    if duels:
        table += "\n\nPaired duels (tfkd and keras.distillation timed in alternation):\n" + duels
    with open(os.path.join(workdir, "speed.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(workdir, "speed.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)), restval="")
        writer.writeheader()
        writer.writerows(
            {**r, "rounds": " ".join(f"{t:.4f}" for t in r["rounds"]) if r.get("rounds") else ""} for r in rows
        )
    print_fn(table)
    return rows
