"""The input that drives a sweep's forward runs, and comma-separated command-line lists.

:class:`Drive` says what feeds the recurrent cell (nothing, Gaussian noise or a task's inputs)
and :func:`_as_drive` accepts every form :func:`gradflow.simulate.gradient_growth` takes;
:func:`parse_list` splits the comma-separated values of ``gradflow simulate``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validation import as_choice, as_float, as_int

__all__ = ["Drive", "parse_list"]

_DRIVE_KINDS = ("none", "gaussian", "adding", "copy")
_TASK_SIZES = {"adding": 2, "copy": 10}
_MIN_STEPS = {"adding": 2, "copy": 21}


@dataclass(frozen=True)
class Drive:
    """The input that drives the forward run (recorded in ``df.attrs["drive"]``).

    Parameters
    ----------
    kind : {"none", "gaussian", "adding", "copy"}
        ``"none"``: a free run from a random state. ``"gaussian"``: inputs x_t ~ N(0, I_D).
        ``"adding"``/``"copy"``: the inputs of :func:`gradflow.tasks.adding`/``copy``
        (one sequence per network).
    scale : float, default 1.0
        Input weights W_xh have entries N(0, scale²/D), so Gaussian inputs add a drive of
        standard deviation ``scale`` to each unit's pre-activation.
    size : int, optional
        D; default 1 for Gaussian inputs; fixed by the task (2 adding, 10 copy).

    Examples
    --------
    >>> Drive.parse("gaussian:scale=0.5,size=3")
    Drive(kind='gaussian', scale=0.5, size=3)
    >>> Drive("adding").size
    2
    """

    kind: str = "none"
    scale: float = 1.0
    size: int | None = None

    def __post_init__(self):
        as_choice(self.kind, "inputs", _DRIVE_KINDS)
        object.__setattr__(self, "scale", as_float(self.scale, "inputs.scale", positive=True))
        size = _TASK_SIZES.get(self.kind, 1) if self.size is None else self.size
        size = as_int(size, "inputs.size", minimum=1)
        if self.kind in _TASK_SIZES and size != _TASK_SIZES[self.kind]:
            raise ValueError(
                f"inputs.size: the {self.kind} task has {_TASK_SIZES[self.kind]} input "
                f"channels, got {size}"
            )
        object.__setattr__(self, "size", size)

    @classmethod
    def parse(cls, text: str) -> Drive:
        """``"kind"`` or ``"kind:scale=S,size=D"`` (the form a command line passes)."""
        if not isinstance(text, str):
            raise TypeError(f"inputs: expected a string such as 'gaussian:scale=0.5', got {text!r}")
        kind, _, rest = text.partition(":")
        fields = {}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, eq, value = item.partition("=")
            if not eq or key.strip() not in ("scale", "size"):
                raise ValueError(f"inputs: expected key=value with key scale or size, got {item!r}")
            convert = int if key.strip() == "size" else float
            try:
                fields[key.strip()] = convert(value)
            except ValueError:
                raise ValueError(f"inputs: {key.strip()} must be a number, got {value!r}") from None
        return cls(kind.strip(), **fields)


def _as_drive(inputs) -> Drive:
    if inputs is None:
        return Drive()
    if isinstance(inputs, Drive):
        return inputs
    if isinstance(inputs, str):
        return Drive.parse(inputs)
    if isinstance(inputs, dict):
        unknown = set(inputs) - {"kind", "scale", "size"}
        if unknown:
            raise ValueError(f"inputs: unknown keys {sorted(unknown)}; expected kind, scale, size")
        return Drive(**inputs)
    raise TypeError(
        f"inputs: expected None, a Drive, a dict or a string, got {type(inputs).__name__}"
    )


def parse_list(text, name: str, *, kind=str) -> list:
    """Split a comma-separated command-line value into a list of ``kind`` (str, int or float).

    Examples
    --------
    >>> parse_list("orthogonal, gaussian", "inits")
    ['orthogonal', 'gaussian']
    >>> parse_list("0.8,1,1.2", "gains", kind=float)
    [0.8, 1.0, 1.2]
    """
    if not isinstance(text, str):
        raise TypeError(f"{name}: expected a comma-separated string, got {text!r}")
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise ValueError(
            f"{name}: expected a comma-separated list without empty items, got {text!r}"
        )
    if kind is str:
        return items
    try:
        return [kind(item) for item in items]
    except ValueError:
        raise ValueError(
            f"{name}: expected comma-separated {kind.__name__} values, got {text!r}"
        ) from None
