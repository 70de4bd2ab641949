"""The memory benchmark of `recipes/benchmark_speed.py`: peak resident memory
of one augmented epoch, the student alone against kd on cached views, each
in its own process."""

import json
import os
import subprocess
import sys

import keras

from recipes.lib import measure
from recipes.lib import speed_pairs as speed
from tfkd import data as data_lib
from tfkd.teacher_cache import cache_size, cache_teacher_views

MEMORY_KINDS = ("student only, augmented", "tfkd kd, cached views")


def memory_probe(kind, examples, batch_size=256):
    """One training epoch of the `small` pair on the first `examples`
    Fashion-MNIST images with the augmented pipeline (shifts, flips, mixup),
    either the student alone or kd on cached views (K=8, top-5, filled
    first). Meant to run in a fresh process (`memory_rows`).

    Returns:
        A dict with the peak RSS of this process in MiB (`VmHWM`) and,
        for cached views, the cache's stated size in MiB.
    """
    if kind not in MEMORY_KINDS:
        raise ValueError(f"Unknown memory probe {kind!r}; expected one of {list(MEMORY_KINDS)}.")
    x, y = data_lib.load_arrays("fashion_mnist")["train"]
    x, y = data_lib.to_float(x[:examples]), y[:examples].astype("int64")
    spec = dict(input_shape=x.shape[1:], num_classes=10)
    keras.utils.set_random_seed(0)
    teacher, student = speed.PAIRS["small"].build(**spec)
    aug = data_lib.Augment(shift=2, flip=True, mixup=0.2, num_classes=10)
    out = {"kind": kind, "examples": examples}
    if kind == MEMORY_KINDS[0]:
        model = student
        dataset, steps = data_lib.seeded_epochs((x, y), batch_size, augment=aug)
    else:
        model = speed.tfkd_distiller(teacher, student, speed.PAIRS["small"])
        dataset, steps = cache_teacher_views(
            model, (x, y), batch_size, augment=aug, views=speed.VIEWS, top_k=speed.TOP_K, verbose=0
        )
        out["cache_mib"] = cache_size(model, examples, speed.VIEWS, speed.TOP_K)[0] / 2**20
    model.compile(**speed.compile_args(categorical=True))
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    out["peak_rss_mb"] = measure.peak_rss_mb()
    return out


def memory_rows(examples, log=print):
    """Runs each `memory_probe` in its own Python process (peak RSS is per
    process) and checks the cache's memory target: peak RSS with cached views
    ≤ the student-only run's + the cache's size + 10%.

    Returns:
        The two probe dicts; the cached one also has `limit_mb` and `met`.
    """
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = []
    for kind in MEMORY_KINDS:
        code = (
            "import json; from recipes.lib.benchmark_memory import memory_probe; "
            f"print('MEMORY ' + json.dumps(memory_probe({kind!r}, {int(examples)})))"
        )
        env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root)
        line = next((l for l in done.stdout.splitlines() if l.startswith("MEMORY ")), None)
        if done.returncode or line is None:
            raise RuntimeError(f"memory probe {kind!r} failed: {done.stderr.strip().splitlines()[-1:]}")
        out.append(json.loads(line[len("MEMORY ") :]))
        log(f"  memory {kind:28s} peak RSS {out[-1]['peak_rss_mb']:,.0f} MiB")
    student, cached = out
    cached["limit_mb"] = 1.1 * (student["peak_rss_mb"] + cached["cache_mib"])
    cached["met"] = cached["peak_rss_mb"] <= cached["limit_mb"]
    return out


def format_memory(probes):
    """The memory probes as a Markdown table."""
    student, cached = probes
    lines = [
        "| run (own process, small pair, one epoch, shifts + flips + mixup) | examples | peak RSS | cache size |",
        "|---|---:|---:|---:|",
        f"| student only, augmented (student.fit) | {student['examples']:,} | {student['peak_rss_mb']:,.0f} MiB | |",
        f"| tfkd kd, cached views (K={speed.VIEWS}, top-{speed.TOP_K}), fill included | {cached['examples']:,} | "
        f"{cached['peak_rss_mb']:,.0f} MiB | {cached['cache_mib']:.1f} MiB |",
        "",
        f"Target: ≤ student-only + cache + 10% = {cached['limit_mb']:,.0f} MiB: "
        f"{'met' if cached['met'] else 'missed'}.",
    ]
    return "\n".join(lines)
