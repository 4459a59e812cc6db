"""`make demo` tells the whole story: recipes, a resumed generation, a guarded reply, a report."""
from __future__ import annotations

import pytest

from souschef import demo


@pytest.mark.slow
def test_the_demo_generates_routes_and_evaluates_with_a_given_model(tiny, tmp_path, capsys):
    path, _ = tiny
    code = demo.main(["--model", str(path), "--run-dir", str(tmp_path), "--limit", "1",
                      "--max-total-tokens", "300", "--steps", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.count("' -> ") == 3  # three questions answered
    assert "call 1 stopped after 48 tokens (finished: False)" in out and "resumed from the file" in out
    assert (tmp_path / "state.json").is_file()
    assert "routes it to a reply" in out and "answer: " in out
    assert (tmp_path / "report" / "report.md").is_file() and (tmp_path / "report" / "metrics.png").is_file()
    assert "1/5" in err and "5/5" in err and "4/5" not in err and "demo finished" in err


def test_a_failing_step_stops_the_demo_with_one_line(tmp_path, capsys):
    code = demo.main(["--model", str(tmp_path / "missing"), "--run-dir", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 1 and "demo failed: cannot load model" in err and "Traceback" not in err
