"""Test-session settings shared by every test module."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Run torch on one thread: the tests' tensors are tiny, and several intra-op threads on
    a small or busy machine cost far more in contention than they gain (a 185 s fit took
    7 s of CPU). Restored at the end of the session."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
