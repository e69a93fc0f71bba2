"""Command line: `mfon inspect [--verify] FILE.h5`, `mfon demo ROOT`, `mfon predict RUN VIDEO --text ...`
(or `--sheet label.csv` / `--folder DIR` for many clips), `mfon export-mmsa results/DATASET OUT.pkl`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import layout
from .errors import MfonError


def _inspect(args: argparse.Namespace) -> None:
    from .h5store import FeatureReadError, summarize, verify

    damaged = []
    for path in args.files:
        try:
            print(summarize(path))
        except FeatureReadError as exc:
            if not args.verify:
                raise
            print(f"{path}\n  summary stopped: {exc}")
        if args.verify:
            found = verify(path)
            print(found.report(path))
            if found.problems:
                damaged.append(f"{path} ({len(found.problems)} damaged datasets)")
    if damaged:
        raise MfonError("damaged feature file(s): " + ", ".join(damaged)
                        + "; delete them and rerun snakemake to extract them again")


def _demo(args: argparse.Namespace) -> None:
    from .demo import generate_demo_corpus

    labels = generate_demo_corpus(Path(args.root), n_speakers=args.n_speakers,
                                  clips_per_speaker=args.clips_per_speaker, seed=args.seed)
    print(labels)


def _check_predict_args(args: argparse.Namespace) -> None:
    """Argument errors, found before torch and the models load (seconds to tens of seconds)."""
    sources = [name for name, value in (("VIDEO", args.video), ("--sheet", args.sheet), ("--folder", args.folder))
               if value is not None]
    if len(sources) != 1:
        raise MfonError("give one clip (VIDEO), a label sheet (--sheet) or a folder of videos (--folder)"
                        + (f", not {' and '.join(sources)}" if sources else ""))
    if not args.run.exists():
        raise MfonError(f"run folder or checkpoint not found: {args.run}")
    if args.video is not None:
        if not args.video.is_file():
            raise MfonError(f"{args.video}: media file is missing")
        if args.out is not None:
            raise MfonError("--out is for batch mode (--sheet or --folder); one clip's result is printed")
    else:
        if args.text is not None:
            raise MfonError("--text is for one clip; in batch mode transcripts come from the sheet's text column "
                            "or from <video name>.txt beside each video")
        if args.json:
            raise MfonError("--json is for one clip; batch mode writes a TSV (--out FILE, or to stdout)")
        if args.sheet is not None and not args.sheet.is_file():
            raise MfonError(f"{args.sheet}: label sheet not found")
        if args.folder is not None and not args.folder.is_dir():
            raise MfonError(f"{args.folder}: folder not found")
    if args.root is not None and args.sheet is None:
        raise MfonError("--root is the dataset root of a --sheet")
    if args.text is not None and not args.text.strip():
        raise MfonError(f"the transcript is empty (--text {args.text!r}); pass the words spoken in {args.video}")


def _predict(args: argparse.Namespace) -> None:
    import json

    _check_predict_args(args)
    from .tsv import write_tsv
    from .predict import Predictor, batch_columns, folder_clips, format_result, predict_batch, sheet_clips

    if args.video is not None:
        with Predictor(args.run, with_teachers=args.teachers) as predictor:
            predictor.check_text(args.text, args.video)
            result = predictor.predict(args.video, args.text)
        print(json.dumps(result, indent=2) if args.json else format_result(result))
        return
    clips = sheet_clips(args.sheet, args.root) if args.sheet is not None else folder_clips(args.folder)
    with Predictor(args.run, with_teachers=args.teachers) as predictor:
        rows = predict_batch(predictor, clips)
    if args.out is not None:
        write_tsv(args.out, rows, batch_columns(rows))
    else:
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=batch_columns(rows), delimiter="\t", extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    failed = sum(row["status"] == "failed" for row in rows)
    print(f"mfon predict: {len(rows) - failed} of {len(rows)} clips scored"
          + (f", {failed} failed (status and reason in the table)" if failed else "")
          + (f"; wrote {args.out}" if args.out is not None else ""), file=sys.stderr)


def _export_mmsa(args: argparse.Namespace) -> None:
    import json

    from .data import FeatureSources
    from .exporters.mmsa import export_mmsa_pickle

    folder = args.dataset_dir.resolve()
    max_frames = {m: n for m, n in (("visual", args.max_visual_frames), ("acoustic", args.max_acoustic_frames)) if n}
    made = export_mmsa_pickle(FeatureSources.for_dataset(folder.parent, folder.name), args.out, family=args.family,
                              max_frames=max_frames, text_model=args.text_model)
    print(json.dumps({k: made[k] for k in ("clips", "padded_frames", "unimodal_labels")}))


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="mfon", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mfon {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="summarise HDF5 feature files (provenance, dims, frames, clips)")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--verify", action="store_true",
                   help="read every dataset back and check its checksum; exit 1 if any is damaged")
    p.set_defaults(func=_inspect)
    p = sub.add_parser("demo", help="write the demo corpus (label.csv + Raw/) under ROOT")
    p.add_argument("root", type=Path)
    p.add_argument("--n-speakers", type=int, default=12)
    p.add_argument("--clips-per-speaker", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_demo)
    p = sub.add_parser("predict", help="sentiment of clips by a trained MFON run or the seeds of a variant "
                                       "(their own feature settings)")
    p.add_argument("run", type=Path, help="MFON run folder (results/<dataset>/mfon/<variant>/seed<S>), its "
                                          f"{layout.RUN_FILES['checkpoint']}, or a variant folder "
                                          "(results/<dataset>/mfon/<variant>: the mean over its seeds)")
    p.add_argument("video", type=Path, nargs="?", help="one clip (video with an audio track)")
    p.add_argument("--sheet", type=Path, help="batch: every clip of a label sheet in MMSA's layout (video_id, "
                                              "clip_id, text; media at <root>/Raw/<video_id>/<clip_id>.mp4)")
    p.add_argument("--root", type=Path, help="dataset root of --sheet (default: the sheet's folder)")
    p.add_argument("--folder", type=Path, help="batch: every video in a folder; transcript from <name>.txt beside it")
    p.add_argument("--out", type=Path, help="batch: write the table (TSV) here (default: stdout)")
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
    p.add_argument("--text-model", default=None, help="text model whose frozen states make the `text` array "
                                                       "(default: the one the text features were tokenized for)")
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
