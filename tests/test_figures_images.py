"""Image-comparison tests: five key figures drawn at quick size against baseline PNGs.

Each figure is drawn in its quick mode with gradflow's style, saved at a modest resolution and
compared with ``tests/baseline/<name>.png`` by :func:`matplotlib.testing.compare.compare_images`
(RMS of the pixel differences, 0–255). The other figure tests check the data and the artists;
these catch what they cannot see: a changed colour, a lost line, a legend moved over the data.

Regenerate the baselines after an intended change of a figure's look::

    GRADFLOW_UPDATE_BASELINES=1 pytest tests/test_figures_images.py

(then look at the new PNGs before committing them). Fonts are fixed as in matplotlib's own
image tests (DejaVu Sans, which ships with matplotlib; no hinting), so the result does not
depend on the machine's fonts.
"""

import os
from pathlib import Path

import matplotlib
import pytest
from matplotlib.testing.compare import compare_images

from gradflow import figures
from gradflow.figures import save_figure

BASELINE = Path(__file__).parent / "baseline"
NAMES = ("growth", "eigenvalues", "lyapunov_spectra", "clipping_adding", "learnability")
#: Resolution of the compared images: enough to see a line, small files (< 150 kB).
DPI = 60
#: RMS tolerance. The same code redraws every figure with RMS 0 (the files repeat byte for
#: byte); the smallest planted change measured, one of growth's 58 lines recoloured or
#: removed, gives RMS 0.55 and 0.44 (learnability: 1.3 and 1.2; lyapunov_spectra 5.6 and 4.9).
#: 0.2 leaves room for a different FreeType build's anti-aliasing and still fails on those.
TOL = 0.2
#: Font settings of matplotlib's image tests (``set_font_settings_for_testing`` without the
#: hinting factor, deprecated in matplotlib 3.11), applied over the package style so that text
#: renders the same on every machine.
FONTS = {"font.family": "DejaVu Sans", "text.hinting": "none"}
UPDATE = os.environ.get("GRADFLOW_UPDATE_BASELINES", "") not in ("", "0")


def draw(name, path):
    """Draw figure ``name`` at quick size with fixed fonts and save it as a PNG at ``DPI``."""
    with matplotlib.rc_context(FONTS):
        fig, _ = figures.get(name)(quick=True)
        save_figure(fig, path, dpi=DPI)
    return fig


def _save(fig, path):
    with matplotlib.rc_context(FONTS):
        save_figure(fig, path, dpi=DPI)


@pytest.mark.parametrize("name", NAMES)
def test_figure_matches_its_baseline(name, tmp_path):
    expected = BASELINE / f"{name}.png"
    if UPDATE:
        BASELINE.mkdir(exist_ok=True)
        draw(name, expected)
        pytest.skip(f"baseline written: {expected}")
    if not expected.exists():
        pytest.fail(f"no baseline {expected}; write it with GRADFLOW_UPDATE_BASELINES=1")
    actual = tmp_path / f"{name}.png"
    draw(name, actual)
    result = compare_images(str(expected), str(actual), tol=TOL, in_decorator=True)
    assert result is None, (
        f"{name}: RMS {result['rms']:.3f} > {TOL} against {expected}; the difference image is "
        f"{result['diff']}. If intended: GRADFLOW_UPDATE_BASELINES=1 pytest {__file__}"
    )


def test_baselines_are_small():
    for name in NAMES:
        path = BASELINE / f"{name}.png"
        if path.exists():
            assert path.stat().st_size < 150_000, f"{path} is {path.stat().st_size} bytes"


def _rms(expected, fig, tmp_path, stem):
    path = tmp_path / f"{stem}.png"
    _save(fig, path)
    result = compare_images(str(expected), str(path), tol=TOL, in_decorator=True)
    return 0.0 if result is None else result["rms"]


def _first_line(fig):
    return next(line for ax in fig.axes for line in ax.lines if len(line.get_xdata()) >= 2)


@pytest.mark.skipif(UPDATE, reason="baselines are being rewritten")
@pytest.mark.parametrize("name", ["growth", "learnability"])
def test_a_planted_change_fails(name, tmp_path):
    """The tolerance is tight enough: one recoloured or one removed line is caught."""
    expected = BASELINE / f"{name}.png"
    if not expected.exists():
        pytest.skip("no baseline")
    fig = draw(name, tmp_path / "plain.png")
    assert _rms(expected, fig, tmp_path, "redrawn") == 0.0
    line = _first_line(fig)
    colour = line.get_color()
    line.set_color("red")
    assert _rms(expected, fig, tmp_path, "recoloured") > TOL
    line.set_color(colour)
    line.remove()
    assert _rms(expected, fig, tmp_path, "removed") > TOL
