"""Writing rollouts as video files (mp4 through imageio's ffmpeg plugin, or GIF)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_video(path: str | Path, frames: np.ndarray | list[np.ndarray], fps: int = 10) -> Path:
    """Write ``frames`` (``uint8[T, H, W, 3]``) to ``path`` (.mp4 or .gif). The
    ffmpeg binary comes with the imageio-ffmpeg wheel: no system ffmpeg needed."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = [np.asarray(f, dtype=np.uint8) for f in frames]
    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, frames, duration=1000 / fps, loop=0)  # type: ignore[arg-type]
    else:
        # macro_block_size=1 keeps odd frame sizes instead of resizing them
        with imageio.get_writer(
            path, fps=fps, codec="libx264", macro_block_size=1, ffmpeg_log_level="error", quality=8
        ) as writer:
            for frame in frames:
                writer.append_data(frame)  # type: ignore[attr-defined]
    return path
