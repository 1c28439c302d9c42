"""Shared test set-up: one torch thread per pytest worker (the CI machine has 2 cores), a headless SDL."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
# pytest-xdist runs one worker per core: one thread each, here and in the train.py
# subprocesses that tests start (they inherit these variables).
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import torch  # noqa: E402

torch.set_num_threads(1)
