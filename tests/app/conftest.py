"""Fixtures of the app tests: one model pool for the whole test session (each model loaded and each scene
encoded once, shared by the unit tests and the browser test)."""

import pytest


@pytest.fixture(scope="session")
def app_pool():
    """A :class:`helpers.app.pool.ModelPool` on the CPU, smoke weights (the test session runs in smoke mode)."""
    from helpers.app.pool import ModelPool

    return ModelPool(device="cpu")


@pytest.fixture(scope="session")
def catalog():
    from helpers.app.scenes import default_catalog

    return default_catalog()
