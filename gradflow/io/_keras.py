"""Keras weight files, ``.keras`` archives and ``.h5`` files, read through h5py (layer 4).

Keras 3 archives zip ``config.json``, ``metadata.json`` and ``model.weights.h5``, in which a
layer's variables sit at ``layers/<snake_case class>[_k]/cell/vars/{0,1,2}`` (kernel,
recurrent kernel, bias), under ``forward_layer``/``backward_layer`` in a Bidirectional and at
``cell/cells/<cell class>[_k]/vars`` for stacked cells (keras/src/saving/saving_lib.py);
``save_weights("x.weights.h5")`` writes that tree alone. Keras 2 / tf.keras ``.h5`` files hold
the config in ``model_config`` and a group per layer under ``model_weights`` (at the root for
weights-only files) listed by ``layer_names``, naming its datasets in ``weight_names``
(tf-keras 2.13 keras/saving/legacy/hdf5_format.py). Without a config, kinds come from the
shapes (recurrent kernel ``(N, G·N)``: G = 1 Elman, 3 GRU, 4 LSTM) and a SimpleRNN is taken
to be tanh. The config is parsed as JSON data, never deserialised (Lambda layers stay inert);
HDF5 soft, external and virtual links are refused.

Keras stores ``kernel (D, G·N)`` and ``recurrent_kernel (N, G·N)``, PyTorch's ``weight_ih`` and
``weight_hh`` transposed. LSTM gates are i, f, c, o as in PyTorch (keras/src/layers/rnn/
lstm.py); GRU gates z, r, h become r, z, n, and ``reset_after=True`` (bias ``(2, 3N)``: input
and recurrent rows) is PyTorch's GRU. CuDNNLSTM/CuDNNGRU keep each gate's input block in
cuDNN's memory order and the biases as input and recurrent halves (8N, 6N): summed for the
LSTM, ``b_ih``/``b_hh`` for the GRU (tf-keras ``_convert_rnn_weights``). Refused, naming the
layer and option: ``GRU(reset_after=False)`` (tanh(W x + U (r ⊙ h)) resets h before the
recurrent product, no PyTorch GRU can), LSTM/GRU activations other than tanh with sigmoid gates
(``hard_sigmoid`` was the Keras 2.2 default), SimpleRNN activations outside tanh, relu,
sigmoid, linear, ConvLSTM and peephole cells. ``use_bias=False``, ``unit_forget_bias`` (an
initialiser), dropout, masks (they skip input steps) and ``stateful`` leave the cell as it
is; ``go_backwards=True`` gives ``direction="reverse"`` (the sequence is read from its end).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import zipfile
import zlib

from ..errors import WeightFileError
from ._keras_cells import (
    _KINDS,
    _attr_list,
    _lookup,
    _Problem,
    _Slot,
    _text,
    build,
)
from ._layer import RecurrentLayer

__all__ = ["HDF5_SIGNATURE", "is_keras_zip", "read_keras"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_CONTAINERS = ("Sequential", "Functional", "Model")
_CORRUPT = (OSError, KeyError, ValueError, TypeError, RuntimeError, EOFError, OverflowError,
            RecursionError, NotImplementedError, zipfile.BadZipFile, zlib.error)  # fmt: skip
_CELLISH = re.compile(r"(^|_)cells?(_\d+)?$")


def is_keras_zip(archive) -> bool:
    """Whether a zip archive (a ``zipfile.ZipFile`` or a path) is a Keras ``.keras`` file.

    True when it holds ``config.json`` and ``metadata.json`` or ``model.weights.{h5,npz}``
    (PyTorch zip checkpoints hold ``<name>/data.pkl``); False for anything else.

    Examples
    --------
    >>> import io, zipfile
    >>> buffer = io.BytesIO()
    >>> with zipfile.ZipFile(buffer, "w") as zf:
    ...     zf.writestr("config.json", "{}")
    >>> is_keras_zip(zipfile.ZipFile(buffer))
    False
    """
    try:
        if not isinstance(archive, zipfile.ZipFile):
            with zipfile.ZipFile(archive) as zf:
                return is_keras_zip(zf)
        names = set(archive.namelist())
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return False
    return "config.json" in names and bool(
        names & {"metadata.json", "model.weights.h5", "model.weights.npz"}
    )


def read_keras(path) -> list[RecurrentLayer]:
    """Read the recurrent layers of a Keras ``.keras`` archive or ``.h5`` file.

    Parameters
    ----------
    path : str or os.PathLike
        A Keras 3 archive, a Keras 2 / tf.keras whole-model ``.h5`` file, or a weights-only
        file from ``save_weights`` (``.weights.h5`` in Keras 3, ``.h5`` in Keras 2).

    Returns
    -------
    list of RecurrentLayer
        One per cell in model order (file order without a config), float64 in PyTorch's
        layout and semantics. ``name`` joins Keras layer names (``"bidirectional/forward_lstm"``),
        a Bidirectional gives ``direction`` ``"forward"`` and ``"reverse"``, stacked cells an
        ``index``; ``source`` holds the HDF5 dataset paths. Keras is batch-major:
        ``cell.run(x.transpose(1, 0, 2))`` is a layer's ``return_sequences=True`` output for
        ``x (B, T, D)`` (time reversed for a ``"reverse"`` cell).

    Raises
    ------
    WeightFileError
        One line naming the file: h5py missing, not a Keras file, truncated or corrupt, a
        missing weights entry, no recurrent layer, or a layer and option gradflow cannot
        represent exactly (see the module notes).

    Examples
    --------
    A weights-only file in Keras 3's layout (what ``model.save_weights`` writes), made here
    with h5py: kernel (D, 4N), recurrent kernel (N, 4N), bias (4N,):

    >>> import os, tempfile
    >>> import h5py, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "model.weights.h5")
    >>> with h5py.File(path, "w") as f:
    ...     v = f.create_group("layers/lstm/cell/vars")
    ...     v["0"], v["1"], v["2"] = np.ones((3, 16)), np.eye(4, 16), np.zeros(16)
    >>> (layer,) = read_keras(path)
    >>> layer, layer.cell.W_hh.shape, layer.cell.W_xh.shape
    (RecurrentLayer(name='lstm', kind='lstm', hidden_size=4), (16, 4), (16, 3))
    """
    label = os.fspath(path)
    try:
        with open(label, "rb") as fh:
            head = fh.read(8)
        size = os.path.getsize(label)
    except OSError as exc:
        raise WeightFileError(f"{label}: cannot read the file ({exc.strerror or exc})") from None
    try:
        import h5py
    except ImportError:
        raise WeightFileError(
            f'{label}: reading Keras files needs h5py: pip install "gradflow-rnn[io]"'
        ) from None
    try:
        hdf5 = head == HDF5_SIGNATURE or (head[:2] != b"PK" and h5py.is_hdf5(label))
        if not hdf5 and head[:2] != b"PK" and not zipfile.is_zipfile(label):
            raise _Problem("not a Keras file: neither a .keras zip archive nor HDF5")
        layers = _read(label, hdf5, size)
    except _Problem as exc:
        raise WeightFileError(f"{label}: {exc}") from None
    except _CORRUPT as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise WeightFileError(f"{label}: truncated or corrupt ({text})") from None
    if not layers:
        raise WeightFileError(f"{label}: no recurrent layer (SimpleRNN, LSTM, GRU) in the file")
    return layers


# -- files ------------------------------------------------------------------------------------
def _read(label: str, hdf5: bool, size: int) -> list[RecurrentLayer]:
    import h5py

    config, source = None, label
    if not hdf5:
        with zipfile.ZipFile(label) as zf:
            names = set(zf.namelist())
            if not is_keras_zip(zf):
                raise _Problem("a zip archive but not a Keras one (no config.json and weights)")
            if "model.weights.h5" not in names:
                if "model.weights.npz" in names:
                    raise _Problem("weights in model.weights.npz are not supported (save as h5)")
                raise _Problem("missing weights entry model.weights.h5")
            config = _json(_member(zf, "config.json"))
            source = io.BytesIO(_member(zf, "model.weights.h5"))
            size = len(source.getbuffer())
    with h5py.File(source, "r") as f:
        return [build(f, slot, size) for slot in _slots(f, config, hdf5)]


def _slots(f, config: dict | None, hdf5: bool) -> list[_Slot]:
    """The cells a file holds, from its config where it has one that lists its layers."""
    import h5py

    slots, root = [], f
    if hdf5 and "model_config" in f.attrs:
        config, root = _json(f.attrs["model_config"]), _lookup(f, "model_weights", h5py.Group)
    elif hdf5 and "layer_names" not in f.attrs and "layer_names0" not in f.attrs:
        if "layers" not in f and "vars" not in f:
            raise _Problem("an HDF5 file without Keras weights (no model_config or layers)")
        return _discover(f)  # Keras 3 save_weights
    if not hdf5:  # Keras 3 archive; a subclassed model's config does not list its layers
        if not _described(config):
            return _discover(f)
        _walk(config, slots, f=f)
    elif config is not None and _described(config):  # Keras 2 whole model
        _walk(config, slots)
        groups = dict.fromkeys(s.group for s in slots)
        slots = [s for g in groups for s in _legacy_match(root, g, slots)]
    else:  # Keras 2 save_weights
        for gname in _attr_list(root, "layer_names"):
            group = _lookup(root, gname, h5py.Group, what=f"layer {gname!r}")
            for prefix, roles in _runs(group):
                parts = [p for p in prefix.split("/") if p and not _CELLISH.search(p)]
                parts = parts if parts[:1] == [gname] else [gname, *parts]
                slot = _Slot(
                    "/".join(parts), group.name, _roles(roles), direction=_direction(parts)
                )
                slots.append(slot)
        _number(slots)
    return slots


def _legacy_match(root, gname: str, slots: list[_Slot]) -> list[_Slot]:
    """Keras 2: the config's cells of one layer group with the datasets its weight_names list.

    Runs are matched by the layer's own name in the weight names when that is unambiguous,
    else taken in order (forward before backward, as Keras saved them).
    """
    import h5py

    wanted = [s for s in slots if s.group == gname]
    group = _lookup(root, gname, h5py.Group, what=f"layer {gname!r}")
    runs = _runs(group)
    if len(runs) != len(wanted):
        raise _Problem(
            f"layer {gname!r}: the config has {len(wanted)} recurrent cells, "
            f"its weight_names {len(runs)}"
        )
    hits = [[r for r in runs if s.name.split("/")[-1] in r[0].split("/")] for s in wanted]
    if all(len(h) == 1 for h in hits) and len({h[0][0] for h in hits}) == len(wanted):
        runs = [h[0] for h in hits]
    keyed = zip(wanted, runs)
    return [dataclasses.replace(s, where=group.name, keys=_roles(r[1])) for s, r in keyed]


def _runs(group) -> list[tuple[str, dict]]:
    """Keras 2: the cells of a layer group's ``weight_names``, as (prefix, {role: name})."""
    runs = []
    for weight in _attr_list(group, "weight_names"):
        prefix, _, base = weight.rpartition("/")
        role = base.split(":")[0]
        if not runs or runs[-1][0] != prefix or role in runs[-1][1]:
            runs.append((prefix, {}))
        runs[-1][1][role] = weight
    return [r for r in runs if {"kernel", "recurrent_kernel"} <= r[1].keys()]


def _roles(roles: dict) -> tuple:
    return tuple(roles.get(k) for k in ("kernel", "recurrent_kernel", "bias"))


def _discover(f) -> list[_Slot]:
    """Keras 3 without a config: every ``.../cell/vars`` group, in natural name order."""
    import h5py

    slots, seen = [], set()

    def visit(group, path, depth):
        if depth > 64 or len(seen) > 100_000:
            raise _Problem("HDF5 groups nested too deep")
        for key in sorted(group, key=lambda k: [int(t) if t.isdigit() else t
                                                for t in re.split(r"(\d+)", k)]):  # fmt: skip
            child = _lookup(group, key, h5py.Group, required=False)
            if child is None or child.id in seen:
                continue
            seen.add(child.id)
            parts = path.split("/")[:-1]
            celled = parts[-1:] == ["cell"] or parts[-2:-1] == ["cells"]
            if key == "vars" and celled and "0" in child and "1" in child:
                kept = [p for p in parts if p not in ("layers", "cell", "cells")]
                turned = [p.replace("_layer", "_") for p in kept]
                slots.append(_Slot("/".join(kept), child.name, direction=_direction(turned)))
            else:
                visit(child, f"{path}{key}/", depth + 1)

    visit(f, "", 0)
    _number(slots)
    return slots


def _number(slots: list[_Slot]) -> None:
    """Give cells that share a name their position among them as ``index``."""
    names = [s.name for s in slots]
    for s in slots:
        if names.count(s.name) > 1:
            s.index = sum(t.name == s.name for t in slots[: slots.index(s)])


def _direction(parts) -> str | None:
    for part in parts:
        if part.startswith(("forward_", "backward_")):
            return "forward" if part.startswith("forward_") else "reverse"
    return None


# -- the config, parsed as data ---------------------------------------------------------------
def _json(raw) -> dict:
    config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw))
    if not isinstance(config, dict):
        raise _Problem("the model config is not a JSON object")
    return config


def _member(zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > max(200 * info.compress_size, 2**26):
        raise _Problem(f"{name} declares {info.file_size} bytes from {info.compress_size}")
    return zf.read(name)


def _get(entry, key: str, kind=str):
    value = entry.get(key) if isinstance(entry, dict) else None
    return value if isinstance(value, kind) else kind()


def _name(entry) -> str:
    return _get(_get(entry, "config", dict), "name") or _get(entry, "name") or "layer"


def _snake(name: str) -> str:
    """Keras' ``naming.to_snake_case``: ``"SimpleRNN"`` -> ``"simple_rnn"``."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", name))
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _unique(key: str, used: dict) -> str:
    used[key] = used.get(key, -1) + 1
    return key if used[key] == 0 else f"{key}_{used[key]}"


def _described(config: dict) -> bool:
    """Whether a config lists its layers (a subclassed model's does not)."""
    cls = _get(config, "class_name")
    if cls in _CONTAINERS:
        return isinstance(_get(config, "config", dict).get("layers"), list)
    return cls in _KINDS or cls in ("RNN", "Bidirectional", "TimeDistributed")


def _walk(entry, out: list, *, f=None, path="", names=(), group="", bidi=False) -> None:
    """Append a slot for each recurrent cell under a config entry (a layer or a model).

    ``f`` is the Keras 3 weights file, in which vars groups are found; None for Keras 2.
    """
    cls, cfg = _get(entry, "class_name"), _get(entry, "config", dict)
    names = names or (_name(entry),)
    if cls in _CONTAINERS:
        used = {}
        for child in _get(cfg, "layers", list):
            key, child_name = _unique(_snake(_get(child, "class_name")), used), _name(child)
            where = _locate(f, f"{path}layers/", key, child_name) if f is not None else ""
            top = group or child_name
            _walk(child, out, f=f, path=f"{where}/", names=(*names, child_name), group=top)
    elif cls == "Bidirectional":
        forward = _get(cfg, "layer", dict)
        base = _name(forward).removeprefix("forward_")
        backward = _get(cfg, "backward_layer", dict)
        if not backward:  # Keras 2 mirrors the forward layer
            back_cfg = {**_get(forward, "config", dict), "name": f"backward_{base}"}
            back_cfg["go_backwards"] = not back_cfg.get("go_backwards", False)
            backward = {"class_name": _get(forward, "class_name"), "config": back_cfg}
        for part, key, sub in ((forward, "forward_layer/", f"forward_{base}"),
                               (backward, "backward_layer/", _name(backward))):  # fmt: skip
            _walk(part, out, f=f, path=path + key, names=(*names, sub), group=group, bidi=True)
    elif cls == "TimeDistributed":
        _walk(_get(cfg, "layer", dict), out, f=f, path=f"{path}layer/", names=names, group=group)
    elif cls in _KINDS or cls == "RNN":
        direction = "reverse" if cfg.get("go_backwards") else ("forward" if bidi else None)
        cell = cfg.get("cell") if cls == "RNN" else entry
        stacked = isinstance(cell, list) or _get(cell, "class_name") == "StackedRNNCells"
        inner = _get(_get(cell, "config", dict), "cells", list)
        used, name = {}, "/".join(names[1:] or names)
        for k, sub in enumerate((cell if isinstance(cell, list) else inner) if stacked else [cell]):
            key = _unique(_snake(_get(sub, "class_name")), used)
            out.append(_Slot(
                f"{name}/{_name(sub)}" if stacked else name,
                f"{path}cell/cells/{key}/vars" if stacked else f"{path}cell/vars",
                cls=_get(sub, "class_name") or "unknown", cfg=_get(sub, "config", dict),
                direction=direction, index=k if stacked else None, group=group))  # fmt: skip
    elif cls.startswith("ConvLSTM") or cls == "PeepholeLSTMCell":
        raise _Problem(f"layer {names[-1]!r}: {cls} is not supported (no PyTorch-semantics cell)")


# -- HDF5, through hard links only ------------------------------------------------------------


def _locate(f, prefix: str, key: str, name: str) -> str:
    """Keras 3: the group of a child layer, by class-name key, checked by its stored name."""
    import h5py

    def stored(path):
        group = _lookup(f, f"{path}/vars", h5py.Group, required=False)
        return None if group is None else _text(group.attrs.get("name"))

    parent = _lookup(f, prefix, h5py.Group, required=False)
    if stored(prefix + key) in (None, name) or parent is None:
        return prefix + key
    return next((prefix + k for k in parent if stored(prefix + k) == name), prefix + key)


# -- arrays: Keras layout to PyTorch layout ---------------------------------------------------
