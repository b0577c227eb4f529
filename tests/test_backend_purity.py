"""Op bodies take their array module from their inputs (``xp = get_array_module(x)``): a stray ``np.`` call
would pull CuPy arrays back to the host or fail on them. NumPy may appear only for dtypes and constants, and in
the NumPy-only loop references (functional/naive.py)."""
import pathlib
import re

import pytest

import tinycnn

ROOT = pathlib.Path(tinycnn.__file__).parent
ALLOWED = re.compile(r"np\.(float16|float32|float64|int32|int64|uint8|floating|issubdtype|dtype)\b")
FILES = sorted(p for folder in ("functional", "nn", "optim") for p in (ROOT / folder).glob("*.py")
               if p.name != "naive.py")


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_numpy_calls_in_op_bodies(path):
    slips = [f"{path.name}:{i}: {line.strip()}" for i, line in enumerate(path.read_text().splitlines(), 1)
             if re.search(r"\bnp\.", ALLOWED.sub("", line))]
    assert not slips, "NumPy used where xp should be:\n" + "\n".join(slips)


def test_the_check_sees_a_slip(tmp_path):
    line = "    y = np.maximum(x, 0)"
    assert re.search(r"\bnp\.", ALLOWED.sub("", line))
    assert not re.search(r"\bnp\.", ALLOWED.sub("", "    x.astype(np.float64)"))
