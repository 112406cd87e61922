"""Helpers shared by the plot tests: a fresh Axes, and the lines drawn on it by ``gid``."""

import matplotlib.pyplot as plt

__all__ = ["data_lines", "lines_by_gid", "new_axes"]


def new_axes():
    """The Axes of a new pyplot figure (closed after each test by the autouse fixture)."""
    return plt.figure().subplots()


def lines_by_gid(ax, gid):
    """The lines of ``ax`` whose ``gid`` is ``gid``."""
    return [line for line in ax.lines if line.get_gid() == gid]


def data_lines(ax):
    """The non-empty lines of ``ax`` without a ``gid``: the data, not the reference artists."""
    return [line for line in ax.lines if line.get_gid() is None and len(line.get_xdata())]
