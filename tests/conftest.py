"""Every test that takes the ``xp`` fixture runs once per available backend: NumPy always, CuPy on a GPU."""
import numpy as np
import pytest

import tinycnn
from tinycnn import backend

BACKENDS = ["numpy", "cupy"]


@pytest.fixture(params=BACKENDS)
def xp(request):
    """The array module of the backend under test, made active for the test's duration."""
    if request.param == "cupy" and not backend.cupy_available():
        pytest.skip("CuPy with a GPU is not available on this machine")
    previous = backend.active()
    tinycnn.use(request.param)
    tinycnn.manual_seed(0)
    yield backend.xp_of(request.param)
    tinycnn.use(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def to_xp(xp, a):
    """A NumPy array moved to the backend under test."""
    return xp.asarray(a)
