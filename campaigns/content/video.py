"""A video's duration and size, read with PyAV (FFmpeg's demuxers; no frame is decoded).

FFmpeg reads every container a phone or a browser writes: a classic MP4 (durations in ``mvhd``),
a fragmented MP4 as Chromium's ``MediaRecorder`` and many phone apps write it (durations only in
the ``moof``/``traf``/``trun`` fragments or ``mehd``), QuickTime, Matroska/WebM (Chromium's WebM
has no duration in its header at all), AVI. Where the container states no duration, the video
stream's packets are walked (demuxing only: the file is read once, nothing decoded) and the end of
the last one is the duration, as a player computes it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoMetadata:
    """``duration`` in seconds (None: it cannot be read), ``width``/``height`` in pixels."""

    duration: float | None
    width: int | None
    height: int | None


UNREADABLE = VideoMetadata(None, None, None)


def read_video(path: str) -> VideoMetadata:
    """What the first video stream of the file at ``path`` declares; :data:`UNREADABLE` for a file
    FFmpeg cannot open or that has no video stream (never raises for bad content)."""
    import av

    try:
        with av.open(path, mode="r") as container:
            if not container.streams.video:
                return UNREADABLE
            stream = container.streams.video[0]
            width = stream.codec_context.width or None
            height = stream.codec_context.height or None
            return VideoMetadata(_duration(container, stream), width, height)
    except (av.FFmpegError, OSError, ValueError, EOFError):
        return UNREADABLE


def _duration(container, stream) -> float | None:
    """Seconds: the container's duration, else the stream's, else the end of its last packet."""
    import av

    if container.duration:  # in av.time_base units (microseconds)
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    end = None
    for packet in container.demux(stream):
        if packet.pts is None or packet.time_base is None:
            continue
        finish = float((packet.pts + (packet.duration or 0)) * packet.time_base)
        end = finish if end is None else max(end, finish)
    return end or None
