"""Quality control: clips per status and reason, frames per clip, face-found fraction, values replaced."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import MfonError
from ..h5store import FeatureFile
from ..tsv import read_tsv
from .common import PAGE_HEIGHT, PAGE_WIDTH, legend_outside, need, plt, save


def _reason_kind(reason: str) -> str:
    """A reason's first clause without clip-specific detail: 'visual: no face found'."""
    first = reason.split(";")[0].strip()
    return first.split("(")[0].strip()[:60] or "ok"


def qc_summary(clip_status: Path, features: dict[str, Path]) -> dict:
    """Per modality: frames per clip, valid (face-found) fraction per clip, non-finite values replaced per clip;
    and clips per status reason."""
    need(clip_status, *features.values())
    status = read_tsv(clip_status)
    if not status:
        raise MfonError(f"{clip_status}: lists no clip")
    reasons = Counter("usable" if r["usable"] == "1" and not r["reason"] else
                      ("usable, " if r["usable"] == "1" else "left out, ") + _reason_kind(r["reason"])
                      for r in status)
    per_modality = {}
    for modality, path in features.items():
        frames, valid, nonfinite = [], [], []
        with FeatureFile(path) as ff:
            for key in ff.keys():
                group = ff.group(key)
                mask = group["valid"][()]
                frames.append(int(group.attrs.get("n_frames", mask.shape[0])))
                valid.append(float(mask.mean()) if mask.size else 0.0)
                nonfinite.append(int(group.attrs.get("nonfinite_replaced", 0)))
        per_modality[modality] = {"frames": np.array(frames), "valid": np.array(valid),
                                  "nonfinite": np.array(nonfinite)}
    return {"reasons": dict(sorted(reasons.items())), "modalities": per_modality, "n_clips": len(status)}


def plot_qc(clip_status: Path, features: dict[str, Path], out_path: Path, *, title: str) -> None:
    summary = qc_summary(clip_status, features)
    fig, grid = plt.subplots(2, 2, figsize=(PAGE_WIDTH, PAGE_HEIGHT), layout="constrained")
    status, frames, faces, nonfinite = grid.flat
    names, counts = zip(*summary["reasons"].items())
    bars = status.barh(range(len(names)), counts, color="#5d6d7e")
    status.bar_label(bars, padding=2, fontsize=8)
    status.margins(x=0.2)  # room for the count right of the longest bar
    status.set_yticks(range(len(names)), names, fontsize=8)
    status.invert_yaxis()
    status.set_xlabel("clips")
    status.set_title(f"clips by status ({summary['n_clips']} in the sheet)", fontsize=10)
    replaced = {m: int(v["nonfinite"].sum()) for m, v in summary["modalities"].items()}
    for modality, values in summary["modalities"].items():
        frames.hist(values["frames"], bins=20, alpha=0.6, label=modality)
        if any(replaced.values()):
            nonfinite.hist(values["nonfinite"], bins=20, alpha=0.6, label=f"{modality}: {replaced[modality]} in all")
    frames.set_title("frames per clip", fontsize=10)
    frames.set_xlabel("frames")
    visual = summary["modalities"].get("visual")
    if visual is not None:
        faces.hist(visual["valid"], bins=np.linspace(0, 1, 21), color="#af601a")
        faces.set_title(f"face-found fraction per clip\n(none found: {int((visual['valid'] == 0).sum())} clips)",
                        fontsize=10)
        faces.set_xlabel("fraction of frames with a face")
    nonfinite.set_title("non-finite values replaced per clip", fontsize=10)
    if any(replaced.values()):
        nonfinite.set_xlabel("values")
        legend_outside(nonfinite)
    else:  # a histogram of zeros says less than the word
        nonfinite.text(0.5, 0.5, "none: every value was finite", ha="center", va="center", fontsize=10,
                       transform=nonfinite.transAxes)
        nonfinite.set_xticks([])
        nonfinite.set_yticks([])
    legend_outside(frames)
    for ax in (frames, faces, nonfinite):
        if ax.get_yticks().size:
            ax.set_ylabel("clips")
    fig.suptitle(title)
    save(fig, out_path)
    return fig
