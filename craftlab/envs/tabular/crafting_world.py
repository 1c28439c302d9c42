"""A tabular crafting world: Minecraft's first tech-tree steps in miniature.

The agent walks a small grid with trees (``T``) and one stone block (``S``).
To mine the stone it must collect wood from a tree, place a crafting table,
craft a wooden pickaxe at it, and then mine -- the first rungs of Minecraft's
(and Crafter's) tech tree::

    T . . . .
    . . . . .       actions: 0 up, 1 right, 2 down, 3 left,
    . . A . .                4 do (collect wood from / mine a neighbouring block),
    . . . . .                5 place table, 6 make wood pickaxe
    T . . . S

* ``do`` next to a tree: wood + 1 (up to ``max_wood``; trees never run out).
* ``place table``: costs ``table_wood`` wood, once. The table is a flag, not a
  position (crafting works anywhere once it stands), which keeps the state small.
* ``make wood pickaxe``: needs the table and ``pickaxe_wood`` wood, once.
* ``do`` next to the stone with the pickaxe: the stone is mined and the episode ends.
* Trees and stone are solid; moving into them or off the grid stays put. With
  ``slip > 0`` a move goes in a uniformly random direction with that probability.

Reward: +1 for each first unlock (place table, make pickaxe, collect stone), as
Crafter rewards achievements, plus ``step_reward`` on every step.

State ``(row, col, wood, table, pickaxe)`` is encoded as one index (see
:meth:`CraftingWorldEnv.encode`); the last index is the terminal state. The
full model ``P`` is built by enumerating every state and action, so dynamic
programming solves the world exactly.
"""

from __future__ import annotations

import numpy as np

from craftlab.envs.tabular.base import Model, ModelEnv

DEFAULT_LAYOUT = ("T....", ".....", "..A..", ".....", "T...S")
UP, RIGHT, DOWN, LEFT, DO, PLACE_TABLE, MAKE_PICKAXE = range(7)
ACTION_NAMES = ("up", "right", "down", "left", "do", "place_table", "make_wood_pickaxe")
MOVES = {UP: (-1, 0), RIGHT: (0, 1), DOWN: (1, 0), LEFT: (0, -1)}


class CraftingWorldEnv(ModelEnv):
    """Observation ``Discrete(rows * cols * (max_wood + 1) * 4 + 1)``, action ``Discrete(7)``."""

    action_arrows = "^>v<dTP"
    """one character per action: moves, d(o), T(able), P(ickaxe)"""

    def __init__(
        self,
        layout: list[str] | tuple[str, ...] = DEFAULT_LAYOUT,
        max_wood: int = 3,
        table_wood: int = 2,
        pickaxe_wood: int = 1,
        slip: float = 0.0,
        step_reward: float = 0.0,
        render_mode: str | None = None,
    ):
        """
        Args:
            layout: rows of the map: ``.`` grass, ``T`` tree, ``S`` stone, ``A`` the agent's start.
            max_wood: most wood the agent can carry.
            table_wood: wood a crafting table costs.
            pickaxe_wood: wood a wooden pickaxe costs.
            slip: probability that a move goes in a random direction instead.
            step_reward: reward added on every step (e.g. -0.01 to favour short paths even with gamma = 1).
            render_mode: None or ``"ansi"``.
        """
        self.layout = tuple(layout)
        self.rows, self.cols = len(self.layout), len(self.layout[0])
        self.grid_shape = (self.rows, self.cols)
        self.max_wood, self.table_wood, self.pickaxe_wood = max_wood, table_wood, pickaxe_wood
        self.slip, self.step_reward = slip, step_reward
        if table_wood > max_wood or pickaxe_wood > max_wood:
            raise ValueError("table_wood and pickaxe_wood must not exceed max_wood")
        starts = [(r, c) for r, row in enumerate(self.layout) for c, ch in enumerate(row) if ch == "A"]
        if len(starts) != 1 or any(len(row) != self.cols for row in self.layout):
            raise ValueError("layout must be rectangular with exactly one 'A'")
        self.start = starts[0]
        self.terminal = self.rows * self.cols * (max_wood + 1) * 4
        """index of the terminal state (stone mined)"""
        P: Model = {}
        for s in range(self.terminal):
            P[s] = {a: self._transitions(s, a) for a in range(7)}
        P[self.terminal] = {a: [(1.0, self.terminal, 0.0, True)] for a in range(7)}
        start = np.zeros(self.terminal + 1)
        start[self.encode(*self.start, 0, 0, 0)] = 1.0
        super().__init__(P, start, n_actions=7, render_mode=render_mode)

    # ------------------------------------------------------------ state index

    def encode(self, row: int, col: int, wood: int, table: int, pickaxe: int) -> int:
        return (((row * self.cols + col) * (self.max_wood + 1) + wood) * 2 + table) * 2 + pickaxe

    def decode(self, s: int) -> tuple[int, int, int, int, int]:
        """State index -> (row, col, wood, table, pickaxe); not for the terminal index."""
        s, pickaxe = divmod(int(s), 2)
        s, table = divmod(s, 2)
        cell, wood = divmod(s, self.max_wood + 1)
        row, col = divmod(cell, self.cols)
        return row, col, wood, table, pickaxe

    def cell_of(self, s: int) -> tuple[int, int] | None:
        """Where state ``s`` is drawn: value maps show the states with an empty
        inventory (the first stage of the tech tree); others are not drawn."""
        if s == self.terminal:
            return None
        r, c, wood, table, pickaxe = self.decode(s)
        return (r, c) if (wood, table, pickaxe) == (0, 0, 0) else None

    # ------------------------------------------------------------ the model

    def _solid(self, r: int, c: int) -> bool:
        return not (0 <= r < self.rows and 0 <= c < self.cols) or self.layout[r][c] in "TS"

    def _next_to(self, r: int, c: int, block: str) -> bool:
        return any(
            0 <= r + dr < self.rows and 0 <= c + dc < self.cols and self.layout[r + dr][c + dc] == block
            for dr, dc in MOVES.values()
        )

    def _move(self, r: int, c: int, direction: int) -> tuple[int, int]:
        dr, dc = MOVES[direction]
        return (r, c) if self._solid(r + dr, c + dc) else (r + dr, c + dc)

    def _transitions(self, s: int, a: int) -> list[tuple[float, int, float, bool]]:
        r, c, wood, table, pickaxe = self.decode(s)
        step = self.step_reward
        if a in MOVES:
            outcomes: dict[int, float] = {}
            directions = [(a, 1.0 - self.slip)] + [(d, self.slip / 4) for d in MOVES]
            for d, p in directions:
                if p > 0:
                    s2 = self.encode(*self._move(r, c, d), wood, table, pickaxe)
                    outcomes[s2] = outcomes.get(s2, 0.0) + p
            return [(p, s2, step, False) for s2, p in outcomes.items()]
        if a == DO and pickaxe and self._next_to(r, c, "S"):
            return [(1.0, self.terminal, 1.0 + step, True)]  # collect_stone
        if a == DO and self._next_to(r, c, "T"):
            return [(1.0, self.encode(r, c, min(wood + 1, self.max_wood), table, pickaxe), step, False)]
        if a == PLACE_TABLE and not table and wood >= self.table_wood:
            return [(1.0, self.encode(r, c, wood - self.table_wood, 1, pickaxe), 1.0 + step, False)]
        if a == MAKE_PICKAXE and table and not pickaxe and wood >= self.pickaxe_wood:
            return [(1.0, self.encode(r, c, wood - self.pickaxe_wood, table, 1), 1.0 + step, False)]
        return [(1.0, s, step, False)]  # nothing to do here

    def render_text(self) -> str:
        if self.s == self.terminal:
            return "stone mined -- episode over\n"
        r, c, wood, table, pickaxe = self.decode(self.s)
        lines = [
            " ".join("@" if (i, j) == (r, c) else ("." if ch == "A" else ch) for j, ch in enumerate(row))
            for i, row in enumerate(self.layout)
        ]
        lines.append(
            f"wood {wood}/{self.max_wood}  table {'yes' if table else 'no'}  pickaxe {'yes' if pickaxe else 'no'}"
        )
        return "\n".join(lines) + "\n"
