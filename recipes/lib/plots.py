"""The benchmark plots (matplotlib, headless): the compression curve and the
loss-scale trace of the accuracy benchmark; the learning and compression
curves of the compression benchmark."""

import json
import statistics


def pyplot():
    """matplotlib's pyplot on the headless Agg backend, or a clear error."""
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError(
            "The accuracy benchmark draws its plots with matplotlib. Fix: "
            "pip install 'tfkd[plots]' (or pip install matplotlib)."
        ) from e
    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def plot_curve(points, teacher_accuracy, path):
    """Test accuracy against student parameters (log x), scratch vs kd."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for row, style in (("scratch", "o--"), ("kd", "s-")):
        by_size = {}
        for r, p, a, _ in points:
            if r == row:
                by_size.setdefault(p, []).append(a)
        xs = sorted(by_size)
        ys = [100 * statistics.mean(by_size[x]) for x in xs]
        ax.plot(xs, ys, style, label=f"student, {row}")
    ax.axhline(100 * teacher_accuracy, color="k", lw=1, label="teacher")
    ax.set_xscale("log")
    ax.set_xlabel("student parameters")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Fashion-MNIST: accuracy vs student size")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_loss_scale(record_path, path):
    """The loss scale per step of the mixed_float16 kd run, with skipped steps."""
    plt = pyplot()
    with open(record_path) as f:
        record = json.load(f)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(record["loss_scale"], lw=1)
    skipped = [
        i
        for i in range(1, len(record["nonfinite_steps"]))
        if record["nonfinite_steps"][i] > record["nonfinite_steps"][i - 1]
    ]
    ax.plot(skipped, [record["loss_scale"][i] for i in skipped], "rx", label=f"skipped steps ({len(skipped)})")
    ax.set_yscale("log", base=2)
    ax.set_xlabel("training step")
    ax.set_ylabel("loss scale")
    ax.set_title("mixed_float16 kd: dynamic loss scale")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return len(skipped)
