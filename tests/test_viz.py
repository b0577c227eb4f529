"""Every viz function returns its figure and writes a non-empty PNG of the size the figure asks for."""
import numpy as np
import pytest
from PIL import Image

from tinycnn import viz

rng = np.random.default_rng(0)
CLASSES = [f"class {i}" for i in range(10)]
CASES = {
    "curves": lambda p: viz.plot_curves([{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_acc": 0.1 * e,
                                          "val_acc": 0.09 * e} for e in range(1, 5)], p),
    "confusion": lambda p: viz.plot_confusion(rng.integers(0, 50, (10, 10)), CLASSES, p),
    "probabilities": lambda p: viz.plot_probabilities(rng.dirichlet(np.ones(10)), CLASSES, p, "x",
                                                      rng.integers(0, 256, (3, 32, 32), dtype=np.uint8)),
    "images": lambda p: viz.plot_images([np.arange(9).reshape(3, 3), np.eye(2)], ["a", "b"], p),
    "bars": lambda p: viz.plot_bars(["a", "b", "c"], [1e-10, 1e-9, 1e-8], p, log=True),
    "series": lambda p: viz.plot_series({"a": [3, 2, 1], "b": [1, 2, 3]}, p),
    "image grid with overlays": lambda p: viz.plot_image_grid(
        rng.integers(0, 256, (5, 3, 32, 32), dtype=np.uint8), [f"pred {i}" for i in range(5)], p,
        overlays=rng.random((5, 32, 32)), cols=3),
    "filters": lambda p: viz.plot_filters(rng.standard_normal((16, 3, 3, 3)), p),
    "feature maps": lambda p: viz.plot_feature_maps(rng.random((8, 10, 10)), p),
}


@pytest.mark.parametrize("name", CASES)
def test_writes_a_png_of_the_figure_size(name, tmp_path):
    path = tmp_path / f"{name}.png"
    fig = CASES[name](str(path))
    assert fig is not None and path.stat().st_size > 2000
    width, height = Image.open(path).size
    expected = (fig.get_size_inches() * fig.dpi).round().astype(int)
    assert (width, height) == tuple(expected)
    assert len(np.unique(np.asarray(Image.open(path).convert("L")))) > 10      # not a blank image
    viz.plt.close(fig)
