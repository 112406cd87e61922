"""What a reader returns: one :class:`RecurrentLayer` per recurrent layer (and direction)."""

from __future__ import annotations

from dataclasses import dataclass

from ..cells import GRU, LSTM, Cell, Elman

__all__ = ["KINDS", "RecurrentLayer"]

#: Cell kinds a layer can hold, and the gradflow cell class of each.
KINDS = {"elman": Elman, "lstm": LSTM, "gru": GRU}


@dataclass(frozen=True)
class RecurrentLayer:
    """One recurrent layer read from a weight file or a live module.

    Attributes
    ----------
    name : str
        Where it sits, as the file names it: ``"encoder.rnn.l1_reverse"`` for PyTorch keys
        ``encoder.rnn.weight_hh_l1_reverse``..., the layer name in a Keras model.
    kind : {"elman", "lstm", "gru"}
    cell : Cell
        A gradflow cell built from the stored arrays in float64, in PyTorch's layout and
        semantics (Keras gate orders and transposed kernels converted).
    source : tuple of str
        The keys (or HDF5 dataset paths) the arrays came from.
    direction : {"forward", "reverse"} or None
        For a bidirectional layer, which direction; None where the file does not say.
    index : int or None
        The layer's index in a stacked module (``_l{k}``), None where the file does not say.
    """

    name: str
    kind: str
    cell: Cell
    source: tuple[str, ...]
    direction: str | None = None
    index: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {self.kind!r}")
        if not isinstance(self.cell, KINDS[self.kind]):
            raise TypeError(
                f"cell: expected a {KINDS[self.kind].__name__} for kind {self.kind!r}, "
                f"got {type(self.cell).__name__}"
            )
        object.__setattr__(self, "source", tuple(self.source))

    @property
    def hidden_size(self) -> int:
        return self.cell.hidden_size

    def __repr__(self) -> str:
        extra = "".join(
            f", {k}={v!r}"
            for k, v in (("direction", self.direction), ("index", self.index))
            if v is not None
        )
        return (
            f"RecurrentLayer(name={self.name!r}, kind={self.kind!r}, "
            f"hidden_size={self.hidden_size}{extra})"
        )
