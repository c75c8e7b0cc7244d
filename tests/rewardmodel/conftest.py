from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread(request):
    """Tiny models gain nothing from a second thread, and on a shared CPU the OpenMP hand-offs make
    a 3-token generate take seconds instead of a tenth of one. Tests that run torch use one thread."""
    if request.node.get_closest_marker("ml") is None:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
