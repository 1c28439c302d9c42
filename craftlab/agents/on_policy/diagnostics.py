"""Diagnostics of an update, logged as ``losses/<key>``."""

from __future__ import annotations

import torch


def explained_variance(y_pred: torch.Tensor, y_true: torch.Tensor) -> float:
    """1 - Var[y - y_hat] / Var[y]: the fraction of the returns' variance the value explains."""
    var_y = torch.var(y_true, unbiased=False)
    if var_y.item() == 0:
        return float("nan")
    return float(1 - torch.var(y_true - y_pred, unbiased=False) / var_y)
