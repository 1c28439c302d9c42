"""``python train.py watch RUN``: watch a trained agent play.

::

    python train.py watch runs/<name> [--checkpoint STEP | --best] [--episodes N] [--seed S]
                                      [--deterministic | --stochastic] [--fps F] [--max-steps T]
                                      [--video out.mp4 | --gif out.gif | --window]

Where it plays:

* **a window** (pygame) when there is a display: the env's frame, enlarged to
  a comfortable size, beside a panel with the step, the return so far, the
  action taken (by name where the env has ``action_names``, e.g. Crafter's) and,
  for Crafter, the inventory and the achievements unlocked. Keys: ``space``
  pause/resume, ``n`` or ``right`` one frame (while paused), ``+``/``up``
  faster, ``-``/``down`` slower, ``q``/``esc`` quit.
* **a video file** with ``--video out.mp4`` or ``--gif out.gif`` (the same
  frames, panel included; ffmpeg comes with the imageio-ffmpeg wheel). With no
  display and neither flag it says so and writes ``RUN/watch/step_<N>_<time>.mp4``.
* **the terminal**, for text environments (``render_mode="ansi"``, the tabular ones).

Frames: each episode contributes its initial frame (after ``reset``) and one
frame per step, so a video of episodes of lengths L1..Lk has ``sum(Li) + k``
frames. Episode ``k`` is reset with ``seed + k`` (as in ``eval``).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from craftlab.commands.evaluate import load_trained_agent
from craftlab.core.errors import UserError
from craftlab.runs.evaluation import StepView, rollout

if TYPE_CHECKING:  # pragma: no cover
    pass

PANEL_WIDTH = 300
"""pixels of the text panel right of the frame"""
MIN_FRAME_HEIGHT = 480
"""frames less than half this tall are enlarged by the largest integer factor that keeps them below it"""
MAX_FPS = 30.0


# ----------------------------------------------------------------- the rollout


# ---------------------------------------------------------------- the overlay


def panel_lines(view: StepView, episodes: int) -> list[str]:
    """The overlay text of one frame: step, return, action; Crafter's inventory
    and unlocked achievements when ``info`` has them."""
    lines = [
        f"episode {view.episode + 1}/{episodes}",
        f"step    {view.t}",
        f"return  {view.episode_return:.2f}",
        f"reward  {view.reward:+.2f}" if view.reward is not None else "reward  -",
        f"action  {view.action or '-'}",
    ]
    if view.done:
        lines.append("-- episode over --")
    inventory = view.info.get("inventory")
    if isinstance(inventory, dict):
        lines += ["", "inventory"]
        items = [f"{k} {int(v)}" for k, v in inventory.items() if int(v) > 0]
        lines += ["  " + "  ".join(items[i : i + 2]) for i in range(0, len(items), 2)] or ["  (empty)"]
    achievements = view.info.get("achievements")
    if isinstance(achievements, dict):
        unlocked = [(k, int(v)) for k, v in achievements.items() if int(v) > 0]
        lines += ["", f"achievements {len(unlocked)}/{len(achievements)}"]
        lines += [f"  {k}" + (f" x{v}" if v > 1 else "") for k, v in unlocked] or ["  (none yet)"]
    return lines


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed bitmap font
        return ImageFont.load_default()


def compose_frame(frame: np.ndarray, lines: list[str], footer: str | None = None) -> np.ndarray:
    """The env's frame, enlarged to at least :data:`MIN_FRAME_HEIGHT` pixels
    (integer factor), with a text panel on its right. Returns ``uint8[H, W, 3]``
    with even H and W (video encoders need them)."""
    from PIL import Image, ImageDraw

    frame = np.asarray(frame, dtype=np.uint8)
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    frame = frame[..., :3]
    scale = max(1, MIN_FRAME_HEIGHT // frame.shape[0])
    if scale > 1:
        frame = frame.repeat(scale, axis=0).repeat(scale, axis=1)
    h, w = frame.shape[:2]
    canvas = Image.new("RGB", (w + PANEL_WIDTH + (w + PANEL_WIDTH) % 2, h + h % 2), (24, 24, 28))
    canvas.paste(Image.fromarray(frame), (0, 0))
    draw = ImageDraw.Draw(canvas)
    size = 15 if h >= 400 else 12
    font, step = _font(size), size + 4
    y = 8
    for line in lines:
        if y + step > h - (2 * step if footer else 0):
            draw.text((w + 10, y), "...", fill=(160, 160, 160), font=font)
            break
        color = (255, 220, 120) if line and not line.startswith(" ") else (225, 225, 225)
        draw.text((w + 10, y), line, fill=color, font=font)
        y += step
    if footer:
        draw.text((w + 10, h - step - 6), footer, fill=(140, 140, 150), font=font)
    return np.asarray(canvas)


# --------------------------------------------------------------------- outputs


def has_display() -> bool:
    """Whether a window can open: a DISPLAY / WAYLAND_DISPLAY on Linux, an
    explicit ``SDL_VIDEODRIVER`` (e.g. ``dummy``), or a desktop OS."""
    if os.environ.get("SDL_VIDEODRIVER"):
        return True
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class VideoFile:
    """Streams frames into an .mp4 (libx264) or .gif, so long episodes do not
    pile up in memory. ``frames`` counts what was written."""

    def __init__(self, path: str | Path, fps: float):
        import imageio.v2 as imageio

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.frames = 0
        if self.path.suffix.lower() == ".gif":
            self._writer = imageio.get_writer(self.path, mode="I", duration=1000.0 / fps, loop=0)
        else:
            self._writer = imageio.get_writer(
                self.path, fps=fps, codec="libx264", macro_block_size=1, ffmpeg_log_level="error", quality=8
            )

    def add(self, frame: np.ndarray) -> None:
        self._writer.append_data(frame)
        self.frames += 1

    def close(self) -> None:
        self._writer.close()


class Window:
    """A pygame window that shows frames at ``fps`` and obeys the keys (see the
    module docstring). pygame is imported here, only when a window is opened."""

    HELP = "space pause  n step  +/- speed  q quit"

    def __init__(self, title: str, fps: float):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        self.pg = pygame
        pygame.display.init()
        self.title = title
        self.fps = float(fps)
        self.paused = False
        self.quit = False
        self._step_once = False
        self.surface = None
        self.frames = 0

    def _caption(self) -> None:
        state = "paused" if self.paused else f"{self.fps:g} fps"
        self.pg.display.set_caption(f"{self.title} [{state}]")

    def handle(self, event: Any) -> None:
        """Apply one pygame event (key press or window close) to the controls."""
        pg = self.pg
        if event.type == pg.QUIT:
            self.quit = True
        elif event.type == pg.KEYDOWN:
            key = event.key
            if key in (pg.K_q, pg.K_ESCAPE):
                self.quit = True
            elif key == pg.K_SPACE:
                self.paused = not self.paused
            elif key in (pg.K_n, pg.K_RIGHT, pg.K_PERIOD):
                self.paused, self._step_once = True, True
            elif key in (pg.K_PLUS, pg.K_EQUALS, pg.K_KP_PLUS, pg.K_UP):
                self.fps = min(self.fps * 1.5, 240.0)
            elif key in (pg.K_MINUS, pg.K_KP_MINUS, pg.K_DOWN):
                self.fps = max(self.fps / 1.5, 0.5)
            self._caption()

    def show(self, frame: np.ndarray) -> bool:
        """Draw ``frame`` (``uint8[H, W, 3]``), then wait 1/fps s (or while
        paused) handling keys. Returns False once the user quits."""
        pg = self.pg
        h, w = frame.shape[:2]
        if self.surface is None or self.surface.get_size() != (w, h):
            self.surface = pg.display.set_mode((w, h))
            self._caption()
        pg.surfarray.blit_array(self.surface, np.ascontiguousarray(frame.swapaxes(0, 1)))
        pg.display.flip()
        self.frames += 1
        deadline = time.perf_counter() + 1.0 / self.fps
        while not self.quit:
            for event in pg.event.get():
                self.handle(event)
            if self._step_once:  # 'n' while paused: this frame is done, stop at the next
                self._step_once = False
                break
            if not self.paused and time.perf_counter() >= deadline:
                break
            time.sleep(0.01)
        return not self.quit

    def close(self) -> None:
        self.pg.display.quit()


# ------------------------------------------------------------------ commands


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py watch",
        description="Watch a trained agent play.",
        epilog="Window keys: space pause/resume, n or right one frame, +/up faster, -/down slower, q/esc quit.",
    )
    p.add_argument("run", help="run folder, e.g. runs/<name>")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--checkpoint", type=int, metavar="STEP", help="checkpoint step (default: latest)")
    which.add_argument(
        "--best", action="store_true", help="the checkpoint with the best periodic evaluation (eval/evaluations.jsonl)"
    )
    p.add_argument("--episodes", type=int, default=1, help="episodes to play (default 1)")
    p.add_argument("--seed", type=int, help="episode k is reset with seed+k (default: a random seed, printed)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--deterministic", dest="deterministic", action="store_true", default=True, help="greedy actions (default)"
    )
    mode.add_argument("--stochastic", dest="deterministic", action="store_false", help="sample actions")
    p.add_argument(
        "--fps",
        type=float,
        help="frames per second (default: the env's render_fps, at most 30; terminal: 0 = no delay)",
    )
    p.add_argument("--max-steps", type=int, help="cut each episode after this many steps")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--video", metavar="OUT.mp4", help="write an mp4 instead of opening a window")
    out.add_argument("--gif", metavar="OUT.gif", help="write a GIF instead of opening a window")
    out.add_argument("--window", action="store_true", help="open a window even if no display is detected")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    return p


def main(argv: list[str]) -> int:
    """Entry point of ``python train.py watch``."""

    args = parser().parse_args(argv)
    if args.episodes < 1:
        raise UserError(f"--episodes must be >= 1, got {args.episodes}")
    if args.video and not args.video.lower().endswith((".mp4", ".mkv", ".mov", ".avi", ".webm")):
        raise UserError(f"--video '{args.video}' needs a video extension such as .mp4 (use --gif for a GIF)")
    if args.gif and not args.gif.lower().endswith(".gif"):
        raise UserError(f"--gif '{args.gif}' must end in .gif")
    loaded = load_trained_agent(args.run, args.checkpoint, args.best, args.device)
    print(loaded.note)
    seed = args.seed if args.seed is not None else random.randrange(100_000)
    if args.seed is None:
        print(f"seed {seed} (replay these episodes with --seed {seed})")
    probe = loaded.agent.envs.make()
    modes = list(probe.metadata.get("render_modes", []))
    default_fps = float(probe.metadata.get("render_fps") or 10)
    probe.close()
    try:
        if "rgb_array" in modes:
            returns = _play_visual(args, loaded, seed, min(default_fps, MAX_FPS))
        elif "ansi" in modes:
            if args.video or args.gif:
                raise UserError(
                    f"'{loaded.config.env.id}' is a text environment: it plays in the terminal; drop --video/--gif"
                )
            returns = _play_text(args, loaded, seed, default_fps)
        else:
            raise UserError(
                f"'{loaded.config.env.id}' renders neither images (rgb_array) nor text (ansi): "
                "there is nothing to watch; use 'python train.py eval' for its numbers"
            )
    finally:
        loaded.agent.close()
    for k, (ret, length) in enumerate(returns):
        print(f"episode {k + 1}: return {ret:.2f}, {length} steps")
    return 0


def _episodes(views: Iterator[StepView]) -> Iterator[tuple[StepView, list[tuple[float, int]]]]:
    """Pass views through, collecting (return, length) of finished episodes."""
    done: list[tuple[float, int]] = []
    for view in views:
        if view.done:
            done.append((view.episode_return, view.t))
        yield view, done


def _play_visual(args: argparse.Namespace, loaded: Any, seed: int, default_fps: float) -> list[tuple[float, int]]:
    fps = args.fps if args.fps and args.fps > 0 else default_fps
    path = args.video or args.gif
    window = None
    if path is None and (args.window or has_display()):
        try:
            window = Window(f"craftlab watch: {loaded.run_dir.name} @ step {loaded.checkpoint.step}", fps)
        except Exception as exc:  # pygame missing or no usable display
            print(f"cannot open a window ({exc}); writing a video instead")
    if window is None and path is None:
        path = loaded.run_dir / "watch" / f"step_{loaded.checkpoint.step:010d}_{time.strftime('%Y%m%d-%H%M%S')}.mp4"
        print(
            f"no display found (DISPLAY is not set): writing the rollout to {path} instead "
            "(choose the file with --video OUT.mp4 or --gif OUT.gif; --window forces a window)"
        )
    env = loaded.agent.envs.make(render_mode="rgb_array")
    video = VideoFile(path, fps) if path is not None else None
    returns: list[tuple[float, int]] = []
    try:
        views = rollout(loaded.agent, env, args.episodes, args.deterministic, seed, args.max_steps)
        for view, returns in _episodes(views):
            frame = compose_frame(
                view.frame, panel_lines(view, args.episodes), footer=Window.HELP if window is not None else None
            )
            if video is not None:
                video.add(frame)
            elif not window.show(frame):
                print("quit")
                break
    finally:
        env.close()
        if video is not None:
            video.close()
            print(f"written: {video.path} ({video.frames} frames, {fps:g} fps)")
        if window is not None:
            window.close()
            print(f"window closed after {window.frames} frames")
    return returns


def _play_text(args: argparse.Namespace, loaded: Any, seed: int, default_fps: float) -> list[tuple[float, int]]:
    fps = default_fps if args.fps is None else args.fps
    clear = sys.stdout.isatty()
    env = loaded.agent.envs.make(render_mode="ansi")
    returns: list[tuple[float, int]] = []
    try:
        views = rollout(loaded.agent, env, args.episodes, args.deterministic, seed, args.max_steps)
        for view, returns in _episodes(views):
            text = view.frame if isinstance(view.frame, str) else str(view.frame)
            lines = panel_lines(view, args.episodes)
            out = (
                ("\x1b[H\x1b[2J" if clear else "")
                + text.rstrip("\n")
                + "\n"
                + "  ".join(line.strip() for line in lines[:5])
                + "\n"
            )
            sys.stdout.write(out)
            sys.stdout.flush()
            if fps > 0:
                time.sleep(1.0 / fps)
    except KeyboardInterrupt:
        print("stopped")
    finally:
        env.close()
    return returns
