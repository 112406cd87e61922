"""What the command-line tests share."""


def one_error_line(capsys) -> str:
    """The single ``gradflow: error: ...`` line a failing command printed (no traceback)."""
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("gradflow: error: ")
    assert "Traceback" not in captured.err
    return lines[0]
