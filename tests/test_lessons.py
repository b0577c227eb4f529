"""Every lesson runs in its default mode and passes its own assertions (the worked numbers, a loss that falls);
each writes a non-empty figure. A lesson that needs CIFAR-10 exits with status 3 and a message when none is
found, and its test is skipped with that message."""
import os
import pathlib
import subprocess
import sys

import pytest

LESSONS = sorted((pathlib.Path(__file__).parents[1] / "lessons").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs(lesson, tmp_path):
    result = subprocess.run([sys.executable, str(lesson), "--out", str(tmp_path)], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    if result.returncode == 3:
        pytest.skip(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0, f"{lesson.name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    figures = list(tmp_path.glob("*.png"))
    assert figures and all(f.stat().st_size > 1000 for f in figures), "the lesson saved no figure"


def test_lessons_have_docstrings_and_no_path_tricks():
    for lesson in LESSONS:
        text = lesson.read_text()
        assert text.startswith('"""Lesson'), lesson.name
        assert "sys.path" not in text, lesson.name
        assert 30 <= len(text.splitlines()) <= 150, f"{lesson.name}: {len(text.splitlines())} lines"
