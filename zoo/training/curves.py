"""curves.png: loss and the main metric per epoch, training vs validation."""

from __future__ import annotations

from pathlib import Path

from zoo.runs import atomic_write_bytes


def plot_curves(history: dict[str, list[float]], main_metric: str, path: Path, title: str) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("loss", "loss")]
    if main_metric in history:
        panels.append((main_metric, main_metric))
    else:
        extra = [k for k in history if not k.startswith(("val_", "_")) and k != "loss"]
        if extra:
            panels.append((extra[0], extra[0]))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels, strict=True):
        for name, style in ((key, "-o"), (f"val_{key}", "--s")):
            values = history.get(name)
            if values:
                epochs = range(1, len(values) + 1)
                shown = "validation" if name.startswith("val_") else "train"
                ax.plot(epochs, values, style, markersize=3, label=shown)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
