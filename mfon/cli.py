"""Command line: `mfon inspect [--verify] FILE.h5`, `mfon demo ROOT`, `mfon predict RUN VIDEO --text ...`
(or `--sheet label.csv` / `--folder DIR` for many clips), `mfon export-mmsa results/DATASET OUT.pkl`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import layout
from .config import load_schema, schema_defaults
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
    _check_predict_args(args)
    import os
    import tempfile

    from .logutil import native_stderr_to

    log = args.log or Path(tempfile.gettempdir()) / f"mfon-predict-{os.getpid()}.log"
    with native_stderr_to(log) as native:
        try:
            _predict_clips(args)
        finally:  # on a failure too: the native messages may say why
            native.stop()
            if native.written:
                print(f"mfon predict: {native.written + native.suppressed} lines of native-library messages "
                      f"(MediaPipe, TensorFlow Lite; {native.suppressed} repeats left out) in {log}",
                      file=sys.stderr)
            elif args.log is None:
                log.unlink(missing_ok=True)


def _predict_clips(args: argparse.Namespace) -> None:
    import json

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


def _check_export_inputs(dataset_dir: Path) -> None:
    """The files an export reads, looked for before torch and h5py load (tens of seconds): a missing one is named
    with the Snakemake target that makes them all (the clip status needs every modality's features)."""
    dataset = dataset_dir.resolve().name

    def here(path: str) -> Path:
        return dataset_dir / Path(path).relative_to(layout.dataset_dir(dataset))

    from .exporters import require_export_inputs

    needed = [layout.manifest(dataset), layout.clip_status(dataset),
              *(layout.features(dataset, m) for m in layout.MODALITIES)]
    require_export_inputs([here(p) for p in needed], str(dataset_dir),
                          f"Make them with `snakemake --cores all {layout.clip_status(dataset)}` (the feature stage), "
                          f"or the MMSA file itself with `snakemake --cores all {layout.mmsa_export(dataset)}`")


def _export_mmsa(args: argparse.Namespace) -> None:
    import json

    _check_export_inputs(args.dataset_dir)
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
    demo = schema_defaults("dataset", "demo")  # the generator's defaults, as in a dataset file's demo section
    p.add_argument("--n-speakers", type=int, default=demo["n_speakers"])
    p.add_argument("--clips-per-speaker", type=int, default=demo["clips_per_speaker"])
    p.add_argument("--seed", type=int, default=demo["seed"])
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
    p.add_argument("--log", type=Path, default=None,
                   help="where native libraries' messages go (default: a file in the system's temporary folder, "
                        "named on the console when there were any)")
    p.set_defaults(func=_predict)
    p = sub.add_parser("export-mmsa", help="write a dataset's features as an MMSA processed pickle "
                                           "(docs/mmsa_export.md)")
    p.add_argument("dataset_dir", type=Path, help="the dataset's results folder (results/<dataset>: manifest.tsv, "
                                                  "qc/clip_status.tsv, features/*_features.h5)")
    p.add_argument("out", type=Path, help="the pickle to write, e.g. results/<dataset>/mmsa/unaligned.pkl")
    metrics = load_schema()["definitions"]["experiment"]["properties"]["metrics"]
    p.add_argument("--family", choices=metrics["enum"], default=metrics["default"],
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
