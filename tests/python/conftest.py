"""Shared fixtures of the snapmla Python tests.

Every test module starts with pytest.importorskip("torch") and skips when the extension is not
importable; tests that need a Hopper GPU use the `cuda` fixture, which skips without one. So on
a machine without torch, without the built extension or without a GPU the suite skips cleanly.
"""
import pytest


@pytest.fixture
def cuda():
    torch = pytest.importorskip("torch")
    try:
        import snapmla
    except ImportError as exc:  # pragma: no cover - the modules skip first
        pytest.skip(f"snapmla is not importable: {exc}")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    if not snapmla.cuda_available():
        pytest.skip("snapmla has no CUDA kernels in this build or the GPU is not a Hopper (sm_90)")
    return torch.device("cuda", torch.cuda.current_device())


def pytest_sessionfinish(session, exitstatus):
    # Without torch (or without the built extension) every module skips at import, which pytest
    # reports as "no tests collected" (exit code 5): that is a clean skip here, not a failure.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK
