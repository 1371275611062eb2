"""Module-level skip shared by the test modules: import after pytest.importorskip("torch")."""
import pytest

try:
    import snapmla  # noqa: F401
except ImportError as exc:
    pytest.skip(f"snapmla is not importable (pip install --no-build-isolation .): {exc}",
                allow_module_level=True)
