"""Writing the demo corpus: mp4 files (H.264 + AAC, bit-reproducible), the label sheet, the whole corpus."""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from ..atomic import atomic_path
from ..logutil import Progress
from .audio import render_clip_audio
from .spec import ClipSpec, demo_clip_specs
from .video import render_clip_frames

log = logging.getLogger(__name__)

LABEL_COLUMNS = ["video_id", "clip_id", "text", "label", "label_T", "label_A", "label_V", "annotation", "mode"]


# x264 SIMD sets, each with the /proc/cpuinfo flag that says the CPU has it.
_X264_SIMD = [
    ("MMX2", "sse"), ("SSE", "sse"), ("SSE2", "sse2"), ("SSE3", "pni"), ("SSSE3", "ssse3"),
    ("SSE4.1", "sse4_1"), ("SSE4.2", "sse4_2"), ("AVX", "avx"), ("FMA3", "fma"), ("BMI1", "bmi1"),
    ("BMI2", "bmi2"), ("AVX2", "avx2"), ("LZCNT", "abm"),
]


def _x264_asm() -> str | None:
    """The x264 ``asm`` setting: the CPU's SIMD sets without AVX-512, on a CPU that has AVX-512.

    x264's AVX-512 code made the output vary from run to run here (it reads memory that depends on the
    heap layout: the right-most macroblock column differed by a few grey levels); its other SIMD sets are
    bit-exact with one another, so leaving AVX-512 out gives the same bytes on every x86 machine.
    ``None`` (x264's own detection) elsewhere.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = set()
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        return None
    if "avx512f" not in flags:
        return None
    return ",".join(name for name, flag in _X264_SIMD if flag in flags)


def _x264_options(fps: int) -> dict[str, str]:
    # one thread: multi-threaded x264 is not bit-reproducible
    options = {"preset": "veryfast", "crf": "23", "threads": "1", "g": str(2 * fps)}
    asm = _x264_asm()
    if asm:
        options["x264-params"] = f"asm={asm}"
    return options


@dataclass(frozen=True)
class ClipFormat:
    """How every clip is rendered and encoded."""

    fps: int = 25
    width: int = 320
    height: int = 240
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if self.width % 2 or self.height % 2:
            raise ValueError(f"width and height must be even for yuv420p, got {self.width}x{self.height}")


def write_clip(spec: ClipSpec, path: Path, fmt: ClipFormat = ClipFormat()) -> None:
    """Render one clip and write it as mp4 (H.264 + AAC mono) to ``path``, atomically."""
    import av

    fps, width, height, sample_rate = fmt.fps, fmt.width, fmt.height, fmt.sample_rate
    audio = render_clip_audio(spec, sample_rate)
    n_frames = int(round(spec.duration * fps))
    mouth = audio.mouth_at_frames(fps, n_frames)
    spf = sample_rate / fps
    bitexact = int(av.codec.context.Flags.bitexact)
    with atomic_path(path) as tmp:
        # +bitexact keeps library version strings out of the file, so equal inputs give equal bytes.
        with av.open(str(tmp), mode="w", format="mp4", options={"fflags": "+bitexact"}) as out:
            vs = out.add_stream("libx264", rate=fps)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.codec_context.thread_count = 1
            vs.codec_context.flags |= bitexact
            vs.codec_context.options = _x264_options(fps)
            ast = out.add_stream("aac", rate=sample_rate, layout="mono")
            ast.codec_context.bit_rate = 64000
            ast.codec_context.thread_count = 1
            ast.codec_context.flags |= bitexact
            samples = audio.samples
            pos = 0

            def push_audio(until: int | None) -> None:
                nonlocal pos
                stop = samples.size if until is None else min(until, samples.size)
                if stop > pos:
                    frame = av.AudioFrame.from_ndarray(samples[None, pos:stop], format="flt", layout="mono")
                    frame.sample_rate = sample_rate
                    frame.pts = pos
                    frame.time_base = Fraction(1, sample_rate)
                    for packet in ast.encode(frame):
                        out.mux(packet)
                    pos = stop
                if until is None:
                    for packet in ast.encode(None):
                        out.mux(packet)

            for i, img in enumerate(render_clip_frames(spec, mouth, fps=fps, width=width, height=height)):
                push_audio(int(round((i + 1) * spf)))
                frame = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
                frame.pts = i
                frame.time_base = Fraction(1, fps)
                for packet in vs.encode(frame):
                    out.mux(packet)
            push_audio(None)
            for packet in vs.encode(None):
                out.mux(packet)


def write_label_csv(path: Path, specs: Sequence[ClipSpec]) -> None:
    """Write the MMSA label sheet for ``specs`` atomically (UTF-8, comma separated, ``\\n`` line ends)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LABEL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for spec in specs:
        writer.writerow(spec.row())
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue().encode("utf-8"))


def generate_demo_corpus(root: Path, **options) -> Path:
    """Write the demo corpus under ``root`` and return the path of its ``label.csv``.

    ``options``: the fields of :class:`ClipFormat` (``fps``, ``width``, ``height``, ``sample_rate``) and the
    keywords of :func:`~mfon.demo.spec.demo_clip_specs` (``n_speakers``, ``clips_per_speaker``, ``seed``,
    ``min_duration``, ``max_duration``, ``split_fractions``). Media go to ``root/Raw/<video_id>/<clip_id>.mp4``;
    the label sheet is written last, so its presence means every clip it lists is complete.
    """
    format_keys = {f.name for f in dataclasses.fields(ClipFormat)}
    fmt = ClipFormat(**{k: v for k, v in options.items() if k in format_keys})
    root = Path(root)
    specs = demo_clip_specs(fps=fmt.fps, **{k: v for k, v in options.items() if k not in format_keys})
    start = time.monotonic()
    log.info("generating %d demo clips (%d speakers) under %s", len(specs), len({s.video_id for s in specs}), root)
    progress = Progress(len(specs), "demo corpus: clips written")  # on the console: the corpus takes minutes
    for spec in specs:
        write_clip(spec, root / "Raw" / spec.video_id / f"{spec.clip_id}.mp4", fmt)
        progress.step()
    label_csv = root / "label.csv"
    write_label_csv(label_csv, specs)
    log.info("demo corpus ready: %s (%d clips, %.1f s)", label_csv, len(specs), time.monotonic() - start)
    return label_csv
