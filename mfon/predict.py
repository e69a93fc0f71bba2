"""Predict the sentiment of one new clip with a trained MFON run: ``mfon predict RUN_DIR VIDEO --text ...``.

The clip goes through the same feature path as the training data, with the run's OWN feature configuration
(recorded in the checkpoint's provenance): the acoustic and visual extractors are rebuilt from the settings that
made the run's feature files (:func:`mfon.extraction.build_extractor`), the transcript is tokenized with the run's
text model and ``max_length``; the extracted sequence is cleaned and judged by the extraction's own
:func:`mfon.extraction.stored_clip` (non-finite values 0, the run's no-face policy), then truncated to the model's
``max_len`` and standardised with the checkpoint's train-split statistics by the training data's own
:func:`mfon.data.model_sequence`; the batch is made by :func:`mfon.data.collate`. The prediction is the model's raw regression output, not clipped to the label range.

With ``with_teachers`` the unimodal teachers of the same seed are run too, each with its own standardiser:
``results/<dataset>/mfon/<variant>/seed<S>`` -> the checkpoint in ``results/<dataset>/teachers/<modality>/seed<S>``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data import SplitData, Standardizer, collate, model_sequence
from . import layout
from .errors import MfonError
from .extraction import build_extractor, stored_clip
from .media import probe
from .models import ModelConfig, TeacherEncoder
from .checkpoints import built_from_checkpoint, fit_weights, load_checkpoint, load_mfon_model, stored_model_config

log = logging.getLogger(__name__)

LABEL_RANGE_NOTE = ("raw regression score, not clipped to the dataset's label_range "
                    "(e.g. [-3, 3] for MOSI/MOSEI/demo, [-1, 1] for CH-SIMS)")


@dataclass
class ClipFeatures:
    """One clip's frame features as the pipeline stores them (cleaned, invalid frames zero-filled)."""

    values: np.ndarray   # (T, D) float32
    valid: np.ndarray    # (T,) bool


# ------------------------------------------------------------------------------------------------- checkpoints
def resolve_checkpoint(run: Path) -> Path:
    """``run`` is a run folder holding its checkpoint or the checkpoint file itself."""
    run = Path(run)
    if run.is_dir():
        path = _checkpoint_in(run)
        if not path.is_file():
            raise MfonError(f"{run}: run folder holds no {path.name} (has the run finished?)")
        return path
    if not run.exists():
        raise MfonError(f"run folder or checkpoint not found: {run}")
    return run


def resolve_checkpoints(run: Path) -> list[Path]:
    """The checkpoints ``run`` names: one run (folder or file), or every seed of a variant folder (an ensemble).

    A variant folder is ``results/<dataset>/mfon/<variant>`` holding a run folder ``seed<S>`` per seed; a seed folder
    without its checkpoint (an unfinished run) is an error, not silently left out of the ensemble.
    """
    run = Path(run)
    seeds = sorted((d for d in run.iterdir() if d.is_dir() and d.name.startswith("seed") and d.name[4:].isdigit()),
                   key=lambda d: int(d.name[4:])) if run.is_dir() and not _checkpoint_in(run).exists() else []
    if not seeds:
        return [resolve_checkpoint(run)]
    unfinished = [str(d) for d in seeds if not _checkpoint_in(d).is_file()]
    if unfinished:
        raise MfonError(f"{run}: seed folder(s) without {_checkpoint_in(run).name}: {', '.join(unfinished)} (have "
                        f"these runs finished?); pass one seed's folder to use the others alone")
    return [_checkpoint_in(d) for d in seeds]


def _checkpoint_in(run_folder: Path) -> Path:
    return Path(layout.run_outputs(str(run_folder))["checkpoint"])


def _settings(path: Path, state: dict, modality: str) -> dict:
    made = state.get("provenance", {}).get(modality)
    if not isinstance(made, dict) or not made.get("settings"):
        raise MfonError(
            f"{path}: its provenance does not record the {modality} feature settings (the checkpoint was trained "
            f"before checkpoints recorded them), so the clip cannot be featurised the way its training data was; "
            f"retrain the run (delete the checkpoint and rerun snakemake) to use mfon predict")
    if made["settings"].get("source") == "mmsa-pickle":
        raise MfonError(
            f"{path}: was trained on features imported from an MMSA pickle ({made['settings'].get('source_file', '')}); "
            "those COVAREP/FACET features cannot be extracted from a raw video here. Train on features extracted by "
            "this pipeline (source.kind: raw) to score new videos")
    return made["settings"]


def teacher_checkpoint(run_checkpoint: Path, modality: str, seed: int) -> Path:
    """The teacher of ``modality`` and ``seed`` of an MFON run, where the workflow's layout puts it."""
    # Lexical (no symlinks followed): the layout the user points at is the one that counts.
    run_dir = Path(os.path.abspath(run_checkpoint)).parent
    where = layout.parse_run_dir(run_dir)
    if where is None:
        raise MfonError(f"{run_dir}: is not laid out as {layout.run_dir('<dataset>', '<variant>', '<S>')}, so its "
                        f"teachers ({_checkpoint_in(layout.teacher_dir('<dataset>', '<modality>', '<S>'))}) "
                        "cannot be found")
    # A named experiment's run distils from its own teachers when it trained some (other teacher settings), else
    # from the default's.
    for experiment in dict.fromkeys((where["experiment"], None)):
        path = where["workdir"] / _checkpoint_in(layout.teacher_dir(where["dataset"], modality, seed, experiment))
        if experiment is None or path.is_file():
            return path


def _load_teacher(path: Path, run_state: dict, modality: str) -> tuple[TeacherEncoder, dict]:
    """A teacher rebuilt for inference; refuses one trained on other features than the MFON run."""
    if not path.is_file():
        raise MfonError(f"teacher checkpoint not found: {path} (train the {modality} teacher of seed "
                        f"{run_state['config']['seed']}, or leave out --teachers)")
    state = load_checkpoint(path, kind="teacher")
    if state["config"].get("modality") != modality:
        raise MfonError(f"{path}: is the teacher of {state['config'].get('modality')!r}, expected {modality!r}")
    made, run_made = state["provenance"].get(modality, {}), run_state["provenance"].get(modality, {})
    if made.get("config_hash") != run_made.get("config_hash") or made.get("dims") != run_made.get("dims"):
        raise MfonError(f"{path}: was trained on {modality} features made with other settings "
                        f"(config {str(made.get('config_hash'))[:12]}) than the MFON run "
                        f"(config {str(run_made.get('config_hash'))[:12]})")
    config = stored_model_config(path, state)
    teacher = fit_weights(path, built_from_checkpoint(path, lambda: TeacherEncoder(config, modality)), state["state_dict"])
    teacher.eval()
    return teacher, state


# ---------------------------------------------------------------------------------------------------- features
def extract_modality(video: Path, modality: str, settings: dict, extractor=None) -> ClipFeatures:
    """The clip's ``modality`` features exactly as :func:`mfon.extraction.extract_shard` stores them.

    ``extractor``: one built from ``settings`` to reuse across clips (as the extraction driver does); by default
    one is built for this clip and closed after it.
    """
    own = extractor is None
    extractor = build_extractor(modality, settings) if own else extractor
    try:
        seq = extractor.extract(Path(video))
    finally:
        close = getattr(extractor, "close", None)
        if own and close is not None:
            close()
    clip = stored_clip(seq, modality, video, settings)
    if clip.status == "quarantined":
        trained_without = (f"; the run's visual.no_face_policy is {settings['no_face_policy']!r}, so it was "
                           "trained without such clips") if clip.valid.size else ""
        raise MfonError(clip.reason + trained_without)
    if clip.status == "no_face":
        log.warning("%s (kept, zero-filled)", clip.reason)
    return ClipFeatures(values=clip.values, valid=clip.valid)


def model_inputs(features: dict[str, ClipFeatures], text: dict[str, np.ndarray], max_len: dict[str, int],
                 standardizer: Standardizer | None) -> dict[str, torch.Tensor]:
    """A one-clip batch: truncated and standardised as training data (:func:`mfon.data.model_sequence`), collated."""
    sequences = {m: [model_sequence(f.values, f.valid, m, max_len[m], standardizer)] for m, f in features.items()}
    data = SplitData(split="predict", keys=["clip"], labels=np.zeros(1, np.float32),
                     text={k: v.astype(np.int64) for k, v in text.items()}, sequences=sequences)
    return collate(data, [0], max_len)


def _standardizer(state: dict) -> Standardizer | None:
    return Standardizer.from_state(state["standardizer"]) if state.get("standardizer") else None


# ------------------------------------------------------------------------------------------------------ predict
@dataclass
class _Member:
    """One trained run of an ensemble (a single run is an ensemble of one)."""

    path: Path
    state: dict
    config: ModelConfig
    model: torch.nn.Module
    teachers: dict[str, tuple[TeacherEncoder, dict]]

    @property
    def seed(self):
        return self.state["config"].get("seed")


def _member(path: Path, with_teachers: bool) -> _Member:
    # The weights are checked against the stored config before any clip is featurised.
    model, state = load_mfon_model(path)
    config = stored_model_config(path, state)
    teachers = {m: _load_teacher(teacher_checkpoint(path, m, state["config"].get("seed")), state, m)
                for m in layout.FRAME_MODALITIES} if with_teachers else {}
    return _Member(path=path, state=state, config=config, model=model, teachers=teachers)


class Predictor:
    """Scores clips with one MFON run, or with every seed of a variant (the mean is the ensemble's score).

    Models, teachers, extractors and the tokenizer are loaded once; each clip is featurised once, the way the
    runs' training data was (all members must have been trained on features made with the same settings).
    Use as a context manager (the extractors hold native resources).
    """

    def __init__(self, run: Path, *, with_teachers: bool = False):
        self.run = Path(run)
        self.members = [_member(p, with_teachers) for p in resolve_checkpoints(self.run)]
        first = self.members[0]
        self.uses_text = "text" in first.config.modalities
        self.needed = [m for m in layout.FRAME_MODALITIES if m in first.config.modalities or m in first.teachers]
        self.settings = {m: _settings(first.path, first.state, m) for m in self.needed}
        self.text_settings = _settings(first.path, first.state, "text") if self.uses_text else None
        for other in self.members[1:]:
            for m in [*self.needed, *(["text"] if self.uses_text else [])]:
                if (other.state["provenance"][m].get("config_hash") != first.state["provenance"][m].get("config_hash")
                        or other.config.modalities != first.config.modalities):
                    raise MfonError(f"{other.path}: was trained on other {m} features or modalities than "
                                    f"{first.path}; an ensemble needs runs of one variant on the same features")
        self._extractors: dict = {}
        self._tokenizer = None

    def __enter__(self) -> "Predictor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for extractor in self._extractors.values():
            close = getattr(extractor, "close", None)
            if close is not None:
                close()
        self._extractors.clear()

    def _extractor(self, modality: str):
        if modality not in self._extractors:
            self._extractors[modality] = build_extractor(modality, self.settings[modality])
        return self._extractors[modality]

    def _text(self, text: str) -> dict[str, np.ndarray]:
        from .features.text import load_tokenizer, tokenize_texts

        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.text_settings["model"])
        return tokenize_texts(self._tokenizer, [text], self.text_settings["max_length"])

    def check_text(self, text: str | None, video: Path) -> None:
        """Refuses a missing or empty transcript when the model reads one."""
        where = self.members[0].path
        if self.uses_text and text is None:
            raise MfonError(f"{where}: the model reads the transcript: pass it with --text")
        if self.uses_text and not text.strip():
            raise MfonError(f"{where}: the transcript is empty; the model reads the transcript: pass the words "
                            f"spoken in {video} with --text")

    @torch.no_grad()
    def predict(self, video: Path, text: str | None) -> dict:
        """The result of :func:`predict_clip` for one clip."""
        video = Path(video)
        self.check_text(text, video)
        # A cheap first look catches a missing stream or an undecodable file before any extractor runs.
        probe(video, require_video="visual" in self.needed, require_audio="acoustic" in self.needed)
        features = {m: extract_modality(video, m, self.settings[m], self._extractor(m)) for m in self.needed}
        text_arrays = self._text(text) if self.uses_text else {}
        scores, teacher_scores, frames = [], {}, {}
        for member in self.members:
            config = member.config
            for m in self.needed:
                expected = config.input_dim(m)
                if features[m].values.shape[1] != expected:
                    raise MfonError(f"{video}: {m} features have {features[m].values.shape[1]} dims but the model "
                                    f"was trained on {expected} (another version of the {m} extractor?)")
            model_features = {m: features[m] for m in self.needed if m in config.modalities}
            max_len = {m: config.max_len[m] for m in model_features}
            batch = model_inputs(model_features, text_arrays, max_len, _standardizer(member.state))
            score = float(member.model(batch).prediction[0])
            if not np.isfinite(score):
                raise MfonError(f"{member.path}: the model returned a non-finite prediction ({score}) for {video}")
            scores.append(score)
            if not frames:
                frames = {m: int(batch[f"{m}_lengths"][0]) for m in model_features}
            for modality, (teacher, tstate) in member.teachers.items():
                tbatch = model_inputs({modality: features[modality]}, {}, {modality: teacher.max_len},
                                      _standardizer(tstate))
                teacher_scores.setdefault(modality, []).append(
                    float(teacher(tbatch[modality], tbatch[f"{modality}_lengths"])[0]))
                frames.setdefault(modality, int(tbatch[f"{modality}_lengths"][0]))
        seeds = [member.seed for member in self.members]
        result: dict = {"sentiment": float(np.mean(scores))}
        if len(self.members) > 1:
            result["seeds"] = dict(zip(seeds, scores))
        if teacher_scores:
            result["teachers"] = {m: float(np.mean(v)) for m, v in teacher_scores.items()}
        visual = features.get("visual")
        result.update({
            "frames": frames,
            "frames_extracted": {m: int(f.values.shape[0]) for m, f in features.items()},
            "face_fraction": round(float(visual.valid.mean()), 4) if visual is not None else None,
            "variant": self.members[0].state["config"].get("variant"),
            "seed": seeds[0] if len(seeds) == 1 else seeds,
            "checkpoint": str(self.members[0].path) if len(seeds) == 1 else [str(m.path) for m in self.members],
            "video": str(video),
            "note": LABEL_RANGE_NOTE,
        })
        return result


def predict_clip(checkpoint: Path, video: Path, text: str | None, *, with_teachers: bool = False) -> dict:
    """Sentiment of one clip (``video`` + its transcript ``text``) by the MFON run ``checkpoint``.

    ``checkpoint``: a run folder (``results/<dataset>/mfon/<variant>/seed<S>``), its checkpoint, or a
    variant folder (``results/<dataset>/mfon/<variant>``: the mean over its seeds, each seed's under ``"seeds"``).
    Returns ``{"sentiment", "teachers" (with_teachers), "frames", "frames_extracted", "face_fraction",
    "variant", "seed", "checkpoint", "note"}``. Raises :class:`MfonError` with the reason otherwise.
    """
    with Predictor(checkpoint, with_teachers=with_teachers) as predictor:
        predictor.check_text(text, Path(video))  # before any clip is decoded
        return predictor.predict(video, text)


# ------------------------------------------------------------------------------------------------- batch mode
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
BATCH_COLUMNS = ["video_id", "clip_id", "video", "status", "sentiment"]


def sheet_clips(sheet: Path, root: Path | None = None, media_extension: str = "mp4") -> list[dict]:
    """Clips of a label sheet in MMSA's layout (``video_id, clip_id, text``; ``<root>/Raw/<video_id>/<clip_id>``).

    ``root`` defaults to the sheet's folder. Rows the sheet reader or the id checks refuse keep their reason.
    """
    from .manifest import LINE_FIELD, media_path_reason, read_label_sheet

    sheet = Path(sheet)
    root = Path(root) if root is not None else sheet.parent
    clips = []
    for row in read_label_sheet(sheet, required=("video_id", "clip_id", "text")):
        video_id, clip_id = row["video_id"], row["clip_id"]
        path, reason = media_path_reason(root, video_id, clip_id, media_extension)
        reason = row.get("_fields_problem") or (f"line {row[LINE_FIELD]}: {reason}" if reason else "")
        clips.append({"video_id": video_id, "clip_id": clip_id, "video": str(path) if path else "",
                      "text": row["text"].strip(), "reason": reason})
    return clips


def folder_clips(folder: Path) -> list[dict]:
    """Every video file of ``folder`` (sorted by name); a transcript is read from ``<name>.txt`` beside it."""
    folder = Path(folder)
    clips = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES):
        transcript = path.with_suffix(".txt")
        clips.append({"video_id": "", "clip_id": path.stem, "video": str(path),
                      "text": transcript.read_text(encoding="utf-8").strip() if transcript.is_file() else None,
                      "reason": ""})
    if not clips:
        raise MfonError(f"{folder}: holds no video file ({', '.join(VIDEO_SUFFIXES)})")
    return clips


def predict_batch(predictor: Predictor, clips: list[dict]) -> list[dict]:
    """One row per clip: ``status`` ok (with the scores) or failed (with the reason); none is left out."""
    rows = []
    for clip in clips:
        row = {k: clip[k] for k in ("video_id", "clip_id", "video")}
        reason = clip["reason"]
        if not reason and clip["text"] is None and predictor.uses_text:
            reason = f"no transcript: the model reads one; put it in {Path(clip['video']).with_suffix('.txt')}"
        if not reason:
            try:
                result = predictor.predict(Path(clip["video"]), clip["text"])
            except MfonError as exc:
                reason = str(exc)
            else:
                row.update(status="ok", sentiment=round(result["sentiment"], 6),
                           face_fraction=result["face_fraction"] if result["face_fraction"] is not None else "")
                row.update({f"seed{s}": round(v, 6) for s, v in result.get("seeds", {}).items()})
                row.update({f"teacher_{m}": round(v, 6) for m, v in result.get("teachers", {}).items()})
        if reason:
            named = clip["video"] or clip["clip_id"]
            log.warning("%s", reason if named in reason else f"{named}: {reason}")  # the path once
            row.update(status="failed", reason=reason)
        rows.append(row)
    return rows


def batch_columns(rows: list[dict]) -> list[str]:
    extra = list(dict.fromkeys(k for row in rows for k in row if k not in BATCH_COLUMNS and k != "reason"))
    return [*BATCH_COLUMNS, *extra, "reason"]


def format_result(result: dict) -> str:
    """The short human-readable summary printed by ``mfon predict``."""
    if "seeds" in result:
        made = f"variant {result['variant']}, mean of seeds " + ", ".join(
            f"{s} {v:+.3f}" for s, v in result["seeds"].items())
    else:
        made = f"variant {result['variant']}, seed {result['seed']}"
    lines = [f"sentiment: {result['sentiment']:+.3f}  ({made})", f"           {result['note']}"]
    if "teachers" in result:
        lines.append("teachers:  " + ", ".join(f"{m} {v:+.3f}" for m, v in result["teachers"].items()))
    parts = []
    for m, n in result["frames"].items():
        total = result["frames_extracted"][m]
        parts.append(f"{m} {n}" + (f" (of {total}; truncated to the model's max_len)" if total > n else ""))
    if parts:
        lines.append("frames:    " + ", ".join(parts))
    if result.get("face_fraction") is not None:
        lines.append(f"face:      found in {100 * result['face_fraction']:.0f}% of the visual frames")
    return "\n".join(lines)
