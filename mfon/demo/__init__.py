"""A deterministic, embedded demo corpus for multimodal sentiment analysis (MMSA layout).

:func:`generate_demo_corpus` writes::

    <root>/label.csv                      video_id, clip_id, text, label, label_T, label_A, label_V, annotation, mode
    <root>/Raw/<video_id>/<clip_id>.mp4   H.264 video (a drawn talking face) + AAC mono audio (a procedural voice)

Nothing is downloaded: faces are drawn with OpenCV, the voice is synthesised with numpy/scipy and the
transcripts come from templates. Every file is written to a temporary name beside its target and renamed
into place, so a killed job never leaves a truncated mp4 or csv.

Generative model
================
Each clip has three independent latent factors, one per modality::

    u_t, u_a, u_v ~ N(0, 1)     (truncated to [-2.5, 2.5])

    label   = clip(round(1.2 * u_t + 0.9 * u_a + 0.9 * u_v, 1), -3, 3)     (text weighted most, as in real MSA)
    label_T = clip(round(1.5 * u_t, 1), -3, 3)       unimodal labels (as in CH-SIMS): each factor mapped
    label_A = clip(round(1.5 * u_a, 1), -3, 3)       onto the [-3, 3] scale
    label_V = clip(round(1.5 * u_v, 1), -3, 3)

    annotation = Positive if label >= 0.5, Negative if label <= -0.5, else Neutral

With these weights corr(label, u_t) ~ 0.69 and corr(label, u_a) ~ corr(label, u_v) ~ 0.51: each modality
alone is informative, none is sufficient, and the three together explain the label almost fully (only the
clipping and rounding are lost).

Each modality renders its *own* factor through clip-level noise, ``r_m = u_m + N(0, sigma_m)``, plus
within-clip noise and speaker nuisance:

* text (sigma_t = 0.35): the intensity of the sentiment phrase is ``round(1.5 * r_t)`` on a 7-step scale
  (terrible ... amazing); 15 % of transcripts use a negated form ("not bad", "not good at all"), 15 % add a
  contrasting clause whose sentiment is random (a word that does not match the label), and neutral movie
  talk and fillers ("um", "you know") pad the rest, lower case as in CMU-MOSI.
* audio (sigma_a = 0.30): pitch level +2 semitones per unit of r_a, pitch-accent range 2 + 1 * r_a semitones,
  energy +3 dB per unit, speaking rate x 2**(0.12 * r_a). Speakers differ in base F0 (95-135 Hz or
  170-230 Hz), formant scale (vocal tract length), rate, loudness and breathiness.
* video (sigma_v = 0.30): mouth-corner lift (smile/frown), brow height and inner-brow lowering (frown) and
  eye openness follow r_v, with a slow within-clip wander (sd 0.15). Speakers differ in skin tone, face
  width and aspect, eye spacing, hair, iris and background colour, and face position/size in the frame.
  The mouth opens with the voice's syllable envelope frame by frame; the head sways, nods and jitters and
  the eyes blink.

Splits assign whole speakers (``video_id``) to train/valid/test, so no speaker is in two splits.
Everything is a function of ``seed``: the same seed gives the same label.csv bytes and the same mp4
bytes (x264 runs single-threaded and without its AVX-512 code, see :func:`_x264_asm`; the muxer runs
with ``+bitexact``). AAC pads the last audio frame, so a decoder may return up to 1024 samples of
silence past the end; the container's audio and video durations are equal (``n_frames / fps``).

Generating the default 144 clips (~7.6 MB) takes about 20 s in one process (measured: 21 s wall on a
2-core machine).

The package: :mod:`.model` (the constants of the generative model above), :mod:`.spec` (speakers and clips),
:mod:`.text` (transcripts), :mod:`.audio` (the voice), :mod:`.video` (the drawn face) and :mod:`.writing`
(mp4 files, the label sheet and :func:`generate_demo_corpus`).
"""

from .audio import render_clip_audio
from .spec import ClipSpec, SpeakerSpec, demo_clip_specs
from .video import render_clip_frames
from .writing import LABEL_COLUMNS, ClipFormat, generate_demo_corpus, write_clip, write_label_csv

__all__ = ["LABEL_COLUMNS", "ClipFormat", "ClipSpec", "SpeakerSpec", "demo_clip_specs", "generate_demo_corpus",
           "render_clip_audio", "render_clip_frames", "write_clip", "write_label_csv"]
