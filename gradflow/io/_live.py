"""In-memory sources: a state dict of arrays or tensors, and a live PyTorch module.

Both are duck-typed (torch is never imported): a tensor is anything with ``detach``, ``cpu``
and ``numpy``; a module anything with ``named_modules()`` whose members have
``named_parameters(recurse=False)``, as ``torch.nn.Module`` does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .. import _activations
from ..errors import WeightFileError
from ._discover import discover, under
from ._flatten import as_numpy, flatten
from ._layer import RecurrentLayer

__all__ = ["from_module", "from_state_dict"]

_RECURRENT_PARAM = re.compile(r"weight_hh(_l\d+(_reverse)?)?")


def _check_key(key):
    if key is not None and (not isinstance(key, str) or not key):
        raise TypeError(f"key: expected a non-empty string or None, got {key!r}")
    return key


def from_state_dict(mapping, *, key=None, activation="tanh") -> list[RecurrentLayer]:
    """The recurrent layers of a state dict (or a nested checkpoint) held in memory.

    Parameters
    ----------
    mapping : mapping of str to array or tensor
        A ``module.state_dict()``, a dict of numpy arrays, or a checkpoint nesting one
        (``{"model": state_dict, "optimizer": ..., "epoch": 3}``: nested keys are joined with
        dots, non-arrays and optimiser state are ignored). Tensors are read with
        ``detach().cpu().numpy()``; torch is never imported.
    key : str, optional
        Keep the layers whose recurrent key or name is ``key`` or lies under it; or the full
        key of a matrix no naming convention covers, to read it as recurrent weights.
    activation : {"tanh", "relu", "sigmoid", "linear"}
        The nonlinearity of Elman layers (a state dict does not record nn.RNN's
        ``nonlinearity``). LSTM and GRU layers ignore it.

    Returns
    -------
    list of RecurrentLayer
        In the order of the mapping's modules; within a module by layer index, forward
        before reverse.

    Raises
    ------
    WeightFileError
        No recurrent layer, inconsistent shapes, non-finite weights: one line starting with
        ``mapping:`` and naming the key.

    Examples
    --------
    >>> import numpy as np
    >>> from gradflow.io import from_state_dict
    >>> rng = np.random.default_rng(0)
    >>> state = {"rnn.weight_hh_l0": rng.normal(size=(8, 2)), "rnn.weight_ih_l0": np.ones((8, 3)),
    ...          "rnn.bias_ih_l0": np.ones(8), "rnn.bias_hh_l0": np.ones(8)}
    >>> [layer] = from_state_dict({"model": state, "epoch": 3})
    >>> layer
    RecurrentLayer(name='model.rnn.l0', kind='lstm', hidden_size=2, index=0)
    >>> layer.cell.b[:2]  # bias_ih + bias_hh
    array([2., 2.])
    """
    if not isinstance(mapping, Mapping):
        raise TypeError(
            f"mapping: expected a mapping of names to arrays, got {type(mapping).__name__}"
        )
    activation = _activations.get(activation).name
    return discover(flatten(mapping), origin="mapping", key=_check_key(key), activation=activation)


def _recurrent_modules(obj):
    """``(name, module, weights)`` for each member holding recurrent weights.

    ``weights`` are the module's own parameters, plus what its ``_flat_weights_names`` (an
    nn.RNN/LSTM/GRU's list of weights) name but the parameters lack: a weight under
    ``torch.nn.utils.parametrize`` or ``weight_norm`` is an attribute computed from others.
    """
    for name, module in obj.named_modules():
        params = getattr(module, "named_parameters", None)
        weights = dict(params(recurse=False)) if callable(params) else {}
        for flat in getattr(module, "_flat_weights_names", None) or ():
            if flat not in weights and getattr(module, flat, None) is not None:
                weights[flat] = getattr(module, flat)
        if any(_RECURRENT_PARAM.fullmatch(p) for p in weights):
            yield name, module, weights


def from_module(obj, *, key=None) -> list[RecurrentLayer]:
    """The recurrent layers of a live ``torch.nn.RNN``/``LSTM``/``GRU`` (or their cells), or of
    any module that contains them.

    Parameters
    ----------
    obj : torch.nn.Module or alike
        Walked with ``named_modules()``; each member owning ``weight_hh*`` parameters is read
        with its ``nonlinearity`` (nn.RNN's tanh or relu), ``num_layers`` and
        ``bidirectional``. The layers are those of ``from_state_dict(obj.state_dict())``, with
        the right nonlinearity for Elman layers.
    key : str, optional
        As in :func:`from_state_dict`.

    Returns
    -------
    list of RecurrentLayer

    Raises
    ------
    TypeError
        ``obj`` has no ``named_modules``.
    WeightFileError
        An LSTM with ``proj_size > 0``, no recurrent layer, or inconsistent weights.

    Examples
    --------
    With PyTorch, ``from_module(torch.nn.GRU(3, 8, num_layers=2))`` gives two GRU layers. Any
    object that answers the same calls will do:

    >>> import numpy as np
    >>> from gradflow.io import from_module
    >>> class TinyRNN:  # what from_module reads of a torch.nn.RNN(1, 2, nonlinearity="relu")
    ...     nonlinearity, num_layers, bidirectional, proj_size = "relu", 1, False, 0
    ...     def named_modules(self):
    ...         return [("", self)]
    ...     def named_parameters(self, recurse=True):
    ...         return [("weight_hh_l0", 0.5 * np.eye(2)), ("weight_ih_l0", np.ones((2, 1)))]
    >>> [layer] = from_module(TinyRNN())
    >>> layer, layer.cell.activation
    (RecurrentLayer(name='l0', kind='elman', hidden_size=2, index=0), 'relu')
    """
    if not callable(getattr(obj, "named_modules", None)):
        raise TypeError(
            f"obj: expected a torch.nn.Module (anything with named_modules()), got "
            f"{type(obj).__name__}"
        )
    key = _check_key(key)
    layers = []
    for name, module, params in _recurrent_modules(obj):
        where = name or type(module).__name__
        proj = getattr(module, "proj_size", 0) or 0
        if proj > 0:
            raise WeightFileError(
                f"module: {where}: an LSTM with proj_size={proj} is not supported"
            )
        activation = getattr(module, "nonlinearity", "tanh")
        prefix = f"{name}." if name else ""
        arrays = {}
        for pname, value in params.items():
            array = as_numpy(value, prefix + pname, "module")
            if array is not None:
                arrays[prefix + pname] = array
        found = discover(arrays, origin="module", activation=activation)
        expected = getattr(module, "num_layers", None)
        if expected is not None:
            expected *= 2 if getattr(module, "bidirectional", False) else 1
            if len(found) != expected:
                raise WeightFileError(
                    f"module: {where}: expected {expected} recurrent layers "
                    f"(num_layers, bidirectional), found {len(found)}"
                )
        layers.extend(found)
    if not layers:
        raise WeightFileError(f"module: no recurrent layer in {type(obj).__name__}")
    if key is not None:
        chosen = [la for la in layers if under(key, la.name) or under(key, la.source[0])]
        if not chosen:
            names = ", ".join(la.name for la in layers)
            raise WeightFileError(f"module: key {key!r} matches no recurrent layer; found {names}")
        layers = chosen
    return layers
