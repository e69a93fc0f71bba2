"""Quality control: clips per status and reason, frames per clip, face-found fraction, values replaced."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import MfonError
from ..h5store import FeatureFile
from ..tsv import read_tsv
from .common import need, plt, save


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
    fig, axes = plt.subplots(1, 4, figsize=(17, 4), layout="constrained")
    names, counts = zip(*summary["reasons"].items())
    bars = axes[0].barh(range(len(names)), counts, color="#5d6d7e")
    axes[0].bar_label(bars, fontsize=7)
    axes[0].set_yticks(range(len(names)), names, fontsize=7)
    axes[0].set_title(f"clips by status ({summary['n_clips']} in the sheet)")
    for modality, values in summary["modalities"].items():
        axes[1].hist(values["frames"], bins=20, alpha=0.6, label=modality)
        axes[3].hist(values["nonfinite"], bins=20, alpha=0.6,
                     label=f"{modality}: {int(values['nonfinite'].sum())} in all")
    axes[1].set_title("frames per clip")
    axes[1].set_xlabel("frames")
    visual = summary["modalities"].get("visual")
    if visual is not None:
        axes[2].hist(visual["valid"], bins=np.linspace(0, 1, 21), color="#af601a")
        axes[2].set_title(f"face-found fraction per clip (none: {int((visual['valid'] == 0).sum())} clips)")
        axes[2].set_xlabel("fraction of frames with a face")
    axes[3].set_title("non-finite values replaced per clip")
    axes[3].set_xlabel("values")
    for ax in (axes[1], axes[3]):
        ax.legend(fontsize=7)
    for ax in axes[1:]:
        ax.set_ylabel("clips")
    fig.suptitle(title)
    save(fig, out_path)
