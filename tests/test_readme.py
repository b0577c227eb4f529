"""The README's example runs as printed and trains (its loss falls)."""
import pathlib
import re


def test_readme_example_runs_and_learns():
    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", readme, re.S)[0]
    code = code.replace("for step in range(20):", "losses = []\nfor step in range(20):")
    code = code.replace("    opt.step()", "    opt.step()\n    losses.append(loss)")
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert len(scope["losses"]) == 20
    assert scope["losses"][-1] < 0.5 * scope["losses"][0]
