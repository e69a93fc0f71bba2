"""The embedded demo corpus: layout, media, determinism, and that each modality carries its own signal."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from mfon import demo
from mfon.demo import text as demo_text
from mfon.demo import writing as demo_writing
from mfon.demo import demo_clip_specs, generate_demo_corpus, render_clip_audio, write_clip
from mfon.media import decode_audio, iter_video_frames, probe

SMALL = dict(n_speakers=3, clips_per_speaker=2, seed=0, min_duration=1.2, max_duration=2.0)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    generate_demo_corpus(root, **SMALL)
    return root


def _rows(label_csv: Path) -> list[dict[str, str]]:
    with open(label_csv, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _r2(X: np.ndarray, y: np.ndarray) -> float:
    X = np.column_stack([X, np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return 1.0 - float(np.sum((y - X @ coef) ** 2) / np.sum((y - y.mean()) ** 2))


# ------------------------------------------------------------------------------------------------ sheet


def test_label_csv_columns_and_dtypes(small_corpus):
    import pandas as pd
    label_csv = small_corpus / "label.csv"
    df = pd.read_csv(label_csv, dtype={"video_id": str, "clip_id": str})
    assert list(df.columns) == demo.LABEL_COLUMNS
    assert len(df) == 6
    assert df["clip_id"].tolist() == ["1", "2"] * 3
    assert all(v.startswith("spk") for v in df["video_id"])
    for col in ("label", "label_T", "label_A", "label_V"):
        assert df[col].dtype == np.float64
        assert df[col].between(-3, 3).all()
        assert np.allclose(df[col], df[col].round(1))
    assert set(df["mode"]) <= {"train", "valid", "test"}
    assert df["text"].map(lambda t: isinstance(t, str) and t == t.lower() and len(t.split()) >= 3).all()
    for label, ann in zip(df["label"], df["annotation"]):
        assert ann == ("Positive" if label >= 0.5 else "Negative" if label <= -0.5 else "Neutral")
    # what the generator returned is what is on disk
    specs = demo_clip_specs(**SMALL)
    assert _rows(label_csv) == [s.row() for s in specs]


def test_speakers_disjoint_across_splits(small_corpus):
    modes: dict[str, set[str]] = {}
    for row in _rows(small_corpus / "label.csv"):
        modes.setdefault(row["video_id"], set()).add(row["mode"])
    assert all(len(m) == 1 for m in modes.values())
    assert {m for ms in modes.values() for m in ms} == {"train", "valid", "test"}
    specs = demo_clip_specs()
    split_of = {}
    for s in specs:
        assert split_of.setdefault(s.video_id, s.mode) == s.mode
    counts = {m: sum(v == m for v in split_of.values()) for m in ("train", "valid", "test")}
    assert counts == {"train": 7, "valid": 3, "test": 2}


def test_bad_arguments():
    with pytest.raises(ValueError):
        demo_clip_specs(split_fractions=(0.5, 0.5))
    with pytest.raises(ValueError):
        demo_clip_specs(min_duration=3.0, max_duration=2.0)
    with pytest.raises(ValueError):
        generate_demo_corpus(Path("unused"), width=321)


# ------------------------------------------------------------------------------------------------ media


def test_media_decode(small_corpus):
    specs = demo_clip_specs(**SMALL)
    for spec in specs:
        path = small_corpus / "Raw" / spec.video_id / f"{spec.clip_id}.mp4"
        info = probe(path)
        assert info.has_video and info.has_audio
        assert (info.video_codec, info.audio_codec) == ("h264", "aac")
        assert (info.width, info.height, info.fps) == (320, 240, 25.0)
        assert (info.audio_channels, info.audio_sample_rate) == (1, 16000)
        assert info.duration_s == pytest.approx(spec.duration, abs=0.01)
        audio = decode_audio(path)
        # AAC pads its last frame: at most 1024 samples beyond the video's end
        assert spec.duration <= audio.size / 16000 <= spec.duration + 1024 / 16000 + 1e-6
        assert 0.005 < float(np.sqrt(np.mean(audio**2))) < 0.5
    leftovers = [p for p in small_corpus.rglob("*") if p.is_file() and p.suffix not in (".mp4", ".csv")]
    assert leftovers == []


def test_deterministic(small_corpus, tmp_path):
    again = generate_demo_corpus(tmp_path / "again", **SMALL)
    assert again.read_bytes() == (small_corpus / "label.csv").read_bytes()
    for spec in demo_clip_specs(**SMALL):
        rel = Path("Raw") / spec.video_id / f"{spec.clip_id}.mp4"
        assert (tmp_path / "again" / rel).read_bytes() == (small_corpus / rel).read_bytes(), rel
    other = tmp_path / "other.csv"
    demo.write_label_csv(other, demo_clip_specs(**{**SMALL, "seed": 1}))
    assert other.read_bytes() != again.read_bytes()


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    spec = dataclasses.replace(demo_clip_specs(**SMALL)[0], duration=0.4)

    def broken(*args, **kwargs):
        yield np.zeros((240, 320, 3), np.uint8)
        raise RuntimeError("killed")

    monkeypatch.setattr(demo_writing, "render_clip_frames", broken)
    target = tmp_path / "Raw" / "spk01" / "1.mp4"
    with pytest.raises(RuntimeError):
        write_clip(spec, target)
    assert list(target.parent.iterdir()) == []


# ------------------------------------------------------------------------------------------------ video


def _facemesh_clip(face_mesh, path: Path):
    """Per frame: found?, lip-corner lift (mouth centre y - corners y, / face height), lip gap, audio RMS."""
    audio = decode_audio(path)
    found, lift, gap, rms = [], [], [], []
    for t, rgb in iter_video_frames(path):
        result = face_mesh.process(rgb)
        a = int(round(t * 16000))
        rms.append(float(np.sqrt(np.mean(audio[a : a + 640] ** 2))))
        if not result.multi_face_landmarks:
            found.append(False)
            lift.append(np.nan)
            gap.append(np.nan)
            continue
        lm = np.array([[p.x * rgb.shape[1], p.y * rgb.shape[0]] for p in result.multi_face_landmarks[0].landmark])
        face_h = np.linalg.norm(lm[152] - lm[10])
        found.append(True)
        lift.append(((lm[13, 1] + lm[14, 1]) / 2 - (lm[61, 1] + lm[291, 1]) / 2) / face_h)
        gap.append((lm[14, 1] - lm[13, 1]) / face_h)
    return np.array(found), np.array(lift), np.array(gap), np.array(rms)


@pytest.fixture(scope="module")
def facemesh_results(tmp_path_factory):
    """FaceMesh over short clips spanning the visual factor: the 2 most negative, 2 neutral, 2 most positive."""
    import mediapipe as mp
    specs = sorted(demo_clip_specs(), key=lambda s: s.r_v)
    mid = len(specs) // 2
    chosen = specs[:2] + specs[mid - 1 : mid + 1] + specs[-2:]
    root = tmp_path_factory.mktemp("facemesh")
    out = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as face_mesh:
        for spec in chosen:
            spec = dataclasses.replace(spec, duration=1.6)
            path = root / f"{spec.video_id}_{spec.clip_id}.mp4"
            write_clip(spec, path)
            out.append((spec, *_facemesh_clip(face_mesh, path)))
    return out


def test_facemesh_finds_the_face(facemesh_results):
    found = np.concatenate([r[1] for r in facemesh_results])
    assert found.size >= 200
    assert found.mean() >= 0.90
    for spec, f, *_ in facemesh_results:
        assert f.mean() >= 0.80, (spec.video_id, spec.clip_id)


def test_facemesh_lip_corners_follow_sentiment(facemesh_results):
    lifts = [float(np.nanmean(r[2])) for r in facemesh_results]
    negative, neutral, positive = lifts[:2], lifts[2:4], lifts[4:]
    assert max(negative) < min(neutral) < max(neutral) < min(positive)
    assert min(positive) - max(negative) > 0.02  # in face heights
    print("lip-corner lift by clip (neg, neutral, pos):", np.round(lifts, 4))


def test_mouth_opens_with_the_voice(facemesh_results):
    corrs = []
    for spec, found, _, gap, rms in facemesh_results:
        ok = found & np.isfinite(gap)
        corrs.append(float(np.corrcoef(gap[ok], rms[ok])[0, 1]))
    assert min(corrs) > 0.25 and np.mean(corrs) > 0.5, corrs


# ------------------------------------------------------------------------------------------------ audio


def test_pitch_and_energy_follow_audio_factor():
    import parselmouth
    specs = demo_clip_specs()
    by_speaker: dict[str, list] = {}
    for s in specs:
        by_speaker.setdefault(s.video_id, []).append(s)
    diffs, loud = [], []
    for clips in list(by_speaker.values())[:4]:
        clips = sorted(clips, key=lambda s: s.u_a)
        pair = []
        for spec in (clips[0], clips[-1]):  # lowest and highest u_a of one speaker
            x = render_clip_audio(spec).samples.astype(np.float64)
            pitch = parselmouth.Sound(x, sampling_frequency=16000).to_pitch(pitch_floor=60, pitch_ceiling=500)
            f0 = pitch.selected_array["frequency"]
            pair.append((float(np.median(f0[f0 > 0])), float(np.sqrt(np.mean(x**2)))))
        diffs.append(12 * np.log2(pair[1][0] / pair[0][0]))
        loud.append(pair[1][1] > pair[0][1])
    assert all(d > 2.0 for d in diffs), diffs  # semitones, high-u_a minus low-u_a clip
    assert all(loud)


# ------------------------------------------------------------------------------------------------ premise


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_modality_carries_part_of_the_signal(seed):
    specs = demo_clip_specs(seed=seed)
    y = np.array([s.label for s in specs])
    factors = np.array([[s.u_t, s.u_a, s.u_v] for s in specs])
    corrs = [float(np.corrcoef(y, factors[:, i])[0, 1]) for i in range(3)]
    assert all(0.2 < c < 0.9 for c in corrs), corrs
    assert corrs[0] == max(corrs)  # text weighted most
    singles = [_r2(factors[:, [i]], y) for i in range(3)]
    assert _r2(factors, y) > max(singles) + 0.25
    # the unimodal labels are the factors on the [-3, 3] scale
    for s in specs:
        assert s.label_T == pytest.approx(float(np.clip(round(1.5 * s.u_t, 1), -3, 3)))
        assert s.label_V == pytest.approx(float(np.clip(round(1.5 * s.u_v, 1), -3, 3)))
    # what the modalities render is the factor plus noise: informative, not a copy
    for u, r in (("u_t", "r_t"), ("u_a", "r_a"), ("u_v", "r_v")):
        c = np.corrcoef([getattr(s, u) for s in specs], [getattr(s, r) for s in specs])[0, 1]
        assert 0.85 < c < 0.995


def test_transcript_follows_text_factor():
    specs = demo_clip_specs()
    # single sentiment words of the generator's lexicon, by sign
    pos = {w for lvl in (1, 2, 3) for w in demo_text._PHRASES[lvl + 3] if " " not in w}
    neg = {w for lvl in (-3, -2, -1) for w in demo_text._PHRASES[lvl + 3] if " " not in w}

    def score(text: str) -> int:
        words = text.split()
        return sum(w in pos for w in words) - sum(w in neg for w in words)

    hi = [score(s.text) for s in specs if s.u_t > 1.0]
    lo = [score(s.text) for s in specs if s.u_t < -1.0]
    assert len(hi) >= 10 and len(lo) >= 10
    assert np.mean(hi) - np.mean(lo) > 0.8, (np.mean(hi), np.mean(lo))
    assert all(s.text == s.text.lower() and "," not in s.text for s in specs)


def test_demo_corpus_generation_reports_progress_on_the_console(tmp_path, caplog):
    # ~95 s of the demo's first job printed nothing on the console
    from mfon.demo import generate_demo_corpus
    from mfon.logutil import PROGRESS_LOGGER

    with caplog.at_level("INFO", logger=PROGRESS_LOGGER):
        generate_demo_corpus(tmp_path, n_speakers=1, clips_per_speaker=2, min_duration=0.5, max_duration=0.6)
    lines = [r.getMessage() for r in caplog.records if r.name == PROGRESS_LOGGER]
    assert lines and lines[-1].startswith("demo corpus: clips written: 2/2 ("), lines
