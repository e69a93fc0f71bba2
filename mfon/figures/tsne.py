"""The paper's Fig. 4: t-SNE of the saved pooled visual vectors, coloured by 3-class sentiment."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis import SENTIMENT_CLASSES, load_representations, sentiment_classes
from ..errors import MfonError
from ..paper import PAPER_ROW_NAMES
from .common import SENTIMENT_COLOURS, need, plt, save


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
    fig, axes = plt.subplots(1, len(representations), figsize=(5.2 * len(representations), 4.8), squeeze=False,
                             layout="constrained")
    for ax, (variant, path) in zip(axes[0], representations.items()):
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
        ax.legend(fontsize=7)
    fig.suptitle(f"{title} (t-SNE seed {seed})")
    save(fig, out_path)
