"""The paper's Fig. 4: t-SNE of the saved pooled visual vectors, coloured by 3-class sentiment."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis import SENTIMENT_CLASSES, load_representations, sentiment_classes
from ..errors import MfonError
from ..paper import PAPER_ROW_NAMES
from .common import LEGEND_FONT, PAGE_HEIGHT, PAGE_WIDTH, SENTIMENT_COLOURS, need, plt, save


def tsne_embedding(vectors: np.ndarray, seed: int) -> np.ndarray:
    """2-D t-SNE (scikit-learn, PCA init, fixed seed); perplexity shrunk for small splits."""
    from sklearn.manifold import TSNE

    n = vectors.shape[0]
    if n < 3:
        raise MfonError(f"t-SNE needs at least 3 clips, the split has {n}")
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                learning_rate="auto").fit_transform(vectors.astype(np.float64))


def plot_tsne(representations: dict[str, Path], out_path: Path, *, title: str, family: str = "mosi",
              seed: int = 0) -> None:
    """The paper's Fig. 4: one panel per variant (``representations``: variant -> its saved .npz)."""
    need(*representations.values())
    # Two (from five variants on, three) panels a row, the height capped: the figure keeps to the report's page.
    columns = min(len(representations), 2 if len(representations) <= 4 else 3)
    rows = -(-len(representations) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(PAGE_WIDTH, min(PAGE_HEIGHT, PAGE_WIDTH / columns * rows + 0.8)),
                             squeeze=False, layout="constrained")
    for ax in axes.flat[len(representations):]:
        ax.set_visible(False)
    for ax, (variant, path) in zip(axes.flat, representations.items()):
        rep = load_representations(path)
        points = tsne_embedding(rep["visual"], seed)
        classes = sentiment_classes(rep["truth"], family)
        for c, (name, colour) in enumerate(zip(SENTIMENT_CLASSES, SENTIMENT_COLOURS)):
            chosen = classes == c
            ax.scatter(points[chosen, 0], points[chosen, 1], s=14, color=colour,
                       label=f"{name} ({int(chosen.sum())})")
        made = rep["made"]
        ax.set_title(f"{PAPER_ROW_NAMES.get(variant, variant)}: Z_v, {made['split']} split, seed {made['seed']}",
                     fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, labels = axes[0, 0].get_legend_handles_labels()  # the same test clips in every panel
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=LEGEND_FONT)
    fig.suptitle(f"{title}\n(t-SNE seed {seed})", fontsize=11)
    save(fig, out_path)
    return fig
