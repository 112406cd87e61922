"""Tests of gradflow.figures: the catalogue writer, its files, and each figure in quick mode."""

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from gradflow import figures
from gradflow.figures import _catalogue
from gradflow.figures import _common as fig_common

COLUMNS = {
    "eigenvalues": ["init", "gain", "hidden_size", "real", "imag", "disk_radius", "sigma_max"],
    "growth": [
        "activation",
        "init",
        "gain",
        "lag",
        "seeds",
        "log_norm",
        "log_norm_low",
        "log_norm_high",
        "log_norm_theory",
        "theory_name",
    ],
}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """The catalogue written twice (quick, PNG and SVG) into two folders."""
    runs = []
    for label in ("first", "second"):
        out = tmp_path_factory.mktemp(label)
        written = figures.write_catalogue(out, quick=True, formats=("png", "svg"))
        runs.append((out, written))
    return runs


@pytest.fixture(scope="module")
def drawn():
    """Each figure in quick mode: name -> (Figure, DataFrame)."""
    return {name: figures.get(name)(quick=True) for name in figures.available()}


def test_registry_lists_the_first_figures():
    assert figures.available()[:2] == ("eigenvalues", "growth")
    for name in figures.available():
        spec = figures.get(name)
        assert spec.name == name and spec.caption.strip()
        assert "{" not in spec.describe() and "{" not in spec.describe(quick=True)
        assert spec.source.startswith("gradflow.figures.")


def test_files_written_for_every_figure(catalogue):
    out, written = catalogue[0]
    for name in figures.available():
        for suffix in ("png", "svg", "csv"):
            path = out / f"{name}.{suffix}"
            assert path in written and path.stat().st_size > 0
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written[-1] == out / "README.md"


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_csv_columns_and_values_match_the_data(catalogue, drawn, name):
    out, _ = catalogue[0]
    csv = pd.read_csv(out / f"{name}.csv")
    assert list(csv.columns) == COLUMNS[name]
    _, data = drawn[name]
    assert list(data.columns) == COLUMNS[name]
    assert len(csv) == len(data)
    numeric = data.select_dtypes("number").columns
    np.testing.assert_allclose(csv[numeric], data[numeric], rtol=1e-9, atol=1e-12)


def test_runs_are_byte_identical(catalogue):
    (first, _), (second, _) = catalogue
    for name in figures.available():
        for suffix in ("csv", "svg", "png"):
            a = (first / f"{name}.{suffix}").read_bytes()
            b = (second / f"{name}.{suffix}").read_bytes()
            assert a == b, f"{name}.{suffix} differs between runs"
    assert (first / "README.md").read_bytes() == (second / "README.md").read_bytes()


def test_readme_is_the_catalogue(catalogue):
    out, _ = catalogue[0]
    text = (out / "README.md").read_text(encoding="utf-8")
    for name in figures.available():
        assert f"## {name}" in text
        assert f"![{name}]({name}.png)" in text
        assert f"[{name}.csv]({name}.csv)" in text
        assert f"gradflow figures --only {name}" in text
        data = pd.read_csv(out / f"{name}.csv")
        assert figures.get(name).describe(quick=True, data=data) in text


def test_only_refreshes_some_figures_and_keeps_the_catalogue(catalogue, tmp_path):
    out, _ = catalogue[0]
    (tmp_path / "growth.svg").write_bytes((out / "growth.svg").read_bytes())  # an earlier run
    written = figures.write_catalogue(tmp_path, quick=True, only=["eigenvalues"])
    assert {p.name for p in written} == {"eigenvalues.png", "eigenvalues.csv", "README.md"}
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "## eigenvalues" in text and "## growth" in text
    assert "![growth](growth.svg)" in text and "- Data: none" in text
    assert "(this copy was drawn with `--quick`)" in text


def test_eigenvalue_figure_draws_its_data(drawn):
    fig, data = drawn["eigenvalues"]
    assert isinstance(fig, Figure)
    panels = [ax for ax in fig.axes if ax.collections]
    assert len(panels) == data["init"].nunique()
    for ax, (_name, part) in zip(panels, data.groupby("init", sort=False)):
        (scatter,) = [c for c in ax.collections if isinstance(c, PathCollection)]
        np.testing.assert_allclose(scatter.get_offsets(), part[["real", "imag"]].to_numpy())
        radii = {p.get_gid(): p.get_radius() for p in ax.patches}
        assert radii["unit-circle"] == 1.0
        assert radii["sigma-max"] == pytest.approx(part["sigma_max"].iloc[0])
        disk = part["disk_radius"].iloc[0]
        assert ("circular-law" in radii) == (not np.isnan(disk))


def test_eigenvalue_figure_science(drawn):
    _, data = drawn["eigenvalues"]
    lam = data["real"] + 1j * data["imag"]
    by_init = dict(tuple(data.assign(modulus=np.abs(lam)).groupby("init")))
    gain = data["gain"].iloc[0]
    np.testing.assert_allclose(by_init["orthogonal"]["modulus"], gain, atol=1e-10)
    np.testing.assert_allclose(by_init["identity"]["real"], gain, atol=1e-12)
    assert by_init["gaussian"]["disk_radius"].iloc[0] == pytest.approx(gain)
    assert by_init["uniform"]["disk_radius"].iloc[0] == pytest.approx(gain / math.sqrt(3))
    for part in by_init.values():  # |λ| <= σ_max for every matrix
        assert part["modulus"].max() <= part["sigma_max"].iloc[0] * (1 + 1e-12)


def test_register_validates_and_runs_in_style(monkeypatch):
    monkeypatch.setattr(_catalogue, "_REGISTRY", dict(_catalogue._REGISTRY))

    @figures.register("toy", caption="A toy of size {size}.", quick={"size": 2})
    def toy(*, size=5):
        import matplotlib

        fig = Figure()
        fig.add_subplot().plot(range(size))
        return fig, pd.DataFrame(
            {"x": range(size), "hashsalt": matplotlib.rcParams["svg.hashsalt"]}
        )

    assert figures.get("toy") is toy
    assert toy.describe() == "A toy of size 5." and toy.describe(quick=True) == "A toy of size 2."
    _, data = toy(quick=True)
    assert len(data) == 2 and set(data["hashsalt"]) == {"gradflow"}
    with pytest.raises(ValueError, match="already registered"):
        figures.register("toy", caption="again")(toy.func)
    with pytest.raises(ValueError, match="name: expected lower case"):
        figures.register("Bad Name", caption="x")
    with pytest.raises(ValueError, match="caption"):
        figures.register("fine", caption=" ")
    with pytest.raises(ValueError, match=r"quick: .* no parameter"):
        figures.register("fine", caption="x", quick={"steps": 1})(toy.func)

    @figures.register("broken", caption="Returns the wrong thing.")
    def broken():
        return "not a figure", None

    with pytest.raises(TypeError, match="expected the function to return"):
        broken()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"only": "nonesuch"}, "only: unknown figure 'nonesuch'; available: eigenvalues"),
        ({"only": []}, "only: expected at least one"),
        ({"formats": "jpg"}, "formats: expected one or more of png, svg, pdf, got 'jpg'"),
        ({"formats": ()}, "formats: expected one or more"),
    ],
)
def test_write_catalogue_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        figures.write_catalogue(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_get_and_save_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="name: unknown figure"):
        figures.get("nonesuch")
    with pytest.raises(ValueError, match="path: expected a suffix"):
        figures.save_figure(Figure(), tmp_path / "x.jpg")


@pytest.mark.parametrize("fmt", figures.FORMATS)
def test_save_figure_is_reproducible_in_every_format(tmp_path, fmt):
    paths = []
    for i in range(2):
        fig = Figure()
        fig.add_subplot().plot([0, 1], [1, 0], label="a")
        fig.axes[0].legend()
        paths.append(figures.save_figure(fig, tmp_path / f"{i}.{fmt}"))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    stamp = {"png": b"Software", "svg": b"<dc:date>", "pdf": b"/CreationDate"}[fmt]
    assert stamp not in paths[0].read_bytes()


def test_caption_numbers_come_from_the_data():
    import pandas as pd

    from gradflow.figures import FigureSpec

    def numbers(data):
        return {"peak": data["y"].max()}

    spec = FigureSpec("demo", "n = {n}; the peak is {peak:.2f}.", lambda *, n=3: None, {}, numbers)
    data = pd.DataFrame({"y": [0.5, 2.25, 1.0]})
    assert spec.describe(data=data) == "n = 3; the peak is 2.25."
    assert spec.describe(data=data.assign(y=data.y * 2), n=4) == "n = 4; the peak is 4.50."
    assert spec.describe() == "n = 3; the peak is …."  # not drawn yet


def test_eigenvalue_caption_ratios_come_from_the_data(drawn):
    _, data = drawn["eigenvalues"]
    text = figures.get("eigenvalues").describe(quick=True, data=data)
    for name, part in data[data["disk_radius"].notna()].groupby("init", sort=False):
        radius = part["disk_radius"].iloc[0]
        rho = np.hypot(part["real"], part["imag"]).max() / radius
        sigma = part["sigma_max"].iloc[0] / radius
        label = fig_common.init_label(name)
        assert f"{label} {rho:.2f}" in text.split("while")[0]
        assert f"{label} {sigma:.2f}" in text.split("while")[1]
        assert 1.5 < sigma < 2.5  # "about twice": the Marchenko–Pastur edge 2 against the law's 1
