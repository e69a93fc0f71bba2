"""Command line: `mfon inspect FILE.h5`, `mfon demo ROOT`, `mfon predict RUN_DIR VIDEO --text ...`,
`mfon export-mmsa results/DATASET OUT.pkl`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import MfonError


def _inspect(args: argparse.Namespace) -> None:
    from .h5store import summarize

    for path in args.files:
        print(summarize(path))


def _demo(args: argparse.Namespace) -> None:
    from .demo import generate_demo_corpus

    labels = generate_demo_corpus(Path(args.root), n_speakers=args.n_speakers,
                                  clips_per_speaker=args.clips_per_speaker, seed=args.seed)
    print(labels)


def _predict(args: argparse.Namespace) -> None:
    import json

    from .predict import format_result, predict_clip

    result = predict_clip(args.run, args.video, args.text, with_teachers=args.teachers)
    print(json.dumps(result, indent=2) if args.json else format_result(result))


def _export_mmsa(args: argparse.Namespace) -> None:
    import json

    from .data import FeatureSources
    from .exporters.mmsa import export_mmsa_pickle

    folder = args.dataset_dir.resolve()
    max_frames = {m: n for m, n in (("visual", args.max_visual_frames), ("acoustic", args.max_acoustic_frames)) if n}
    made = export_mmsa_pickle(FeatureSources.for_dataset(folder.parent, folder.name), args.out, family=args.family,
                              max_frames=max_frames)
    print(json.dumps({k: made[k] for k in ("clips", "padded_frames", "unimodal_labels")}))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mfon", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="summarise HDF5 feature files (provenance, dims, frames, clips)")
    p.add_argument("files", nargs="+", type=Path)
    p.set_defaults(func=_inspect)
    p = sub.add_parser("demo", help="write the demo corpus (label.csv + Raw/) under ROOT")
    p.add_argument("root", type=Path)
    p.add_argument("--n-speakers", type=int, default=12)
    p.add_argument("--clips-per-speaker", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_demo)
    p = sub.add_parser("predict", help="sentiment of one clip by a trained MFON run (its own feature settings)")
    p.add_argument("run", type=Path, help="MFON run folder (results/<dataset>/mfon/<variant>/seed<S>) or its "
                                          "checkpoint.pt")
    p.add_argument("video", type=Path, help="the clip (video with an audio track)")
    p.add_argument("--text", default=None, help="the clip's transcript (needed by models that read text)")
    p.add_argument("--teachers", action="store_true",
                   help="also run the unimodal teachers of the same seed (results/<dataset>/teachers/...)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_predict)
    p = sub.add_parser("export-mmsa", help="write a dataset's features as an MMSA processed pickle "
                                           "(docs/mmsa_export.md)")
    p.add_argument("dataset_dir", type=Path, help="the dataset's results folder (results/<dataset>: manifest.tsv, "
                                                  "qc/clip_status.tsv, features/*_features.h5)")
    p.add_argument("out", type=Path, help="the pickle to write, e.g. results/<dataset>/mmsa/unaligned.pkl")
    p.add_argument("--family", choices=("mosi", "sims"), default="mosi",
                   help="label family: mosi ([-3, 3]) or sims ([-1, 1]); sets classification_labels")
    p.add_argument("--max-visual-frames", type=int, default=None, help="truncate vision to this many frames")
    p.add_argument("--max-acoustic-frames", type=int, default=None, help="truncate audio to this many frames")
    p.set_defaults(func=_export_mmsa)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except MfonError as exc:
        print(f"mfon: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
