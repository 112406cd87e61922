"""Weight files in, gradflow cells out (layer 4): the readers behind ``gradflow diagnose``.

:func:`load` reads the recurrent layers of a weight file, whatever wrote it: NumPy
(``.npy``/``.npz``), safetensors, PyTorch (``torch.save``, zip or legacy; read without torch
and without running pickled code) and Keras (``.keras``/``.h5``). The format is read from the
content, not the extension (:func:`detect_format`). :func:`from_state_dict` and
:func:`from_module` do the same for a state dict in memory and for a live PyTorch module.

Each recurrent layer (and direction) becomes a :class:`RecurrentLayer`: its name as the file
gives it, its kind (``"elman"``, ``"lstm"`` or ``"gru"``), a float64 gradflow cell in
PyTorch's layout and semantics, and the keys the arrays came from. Which keys make a layer,
how the kind follows from the shapes and how biases combine is documented in
``gradflow.io._discover``. Every failure is a one-line :class:`WeightFileError` that
starts with the file's path (or ``mapping:``/``module:``).

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from gradflow import io
>>> tmp = tempfile.TemporaryDirectory()
>>> path = os.path.join(tmp.name, "checkpoint")  # no extension: the content decides
>>> with open(path, "wb") as f:
...     np.savez(f, W_hh=np.eye(4), W_xh=np.ones((4, 2)), b=np.zeros(4))
>>> io.detect_format(path), io.load(path)
('npz', [RecurrentLayer(name='W_hh', kind='elman', hidden_size=4)])
>>> tmp.cleanup()
"""

from ..errors import WeightFileError
from ._formats import FORMATS, detect_format, load
from ._layer import KINDS, RecurrentLayer
from ._live import from_module, from_state_dict

__all__ = [
    "FORMATS",
    "KINDS",
    "RecurrentLayer",
    "WeightFileError",
    "detect_format",
    "from_module",
    "from_state_dict",
    "load",
]
