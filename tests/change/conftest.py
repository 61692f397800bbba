"""Simulated SAR pairs shared by the change-detection tests (written once per session)."""

import pytest

from helpers.change.simulate import simulate_sar_pair


@pytest.fixture(scope="session")
def sim_pair():
    """``sim_pair(looks=4, size=(256, 256), seed=0, nodata_edge=0.0)`` -> a cached SimulatedPair."""
    cache = {}

    def make(looks=4, size=(256, 256), seed=0, nodata_edge=0.0):
        key = (looks, tuple(size), seed, nodata_edge)
        if key not in cache:
            cache[key] = simulate_sar_pair(size=size, looks=looks, seed=seed, nodata_edge=nodata_edge)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def pair_files(sim_pair, tmp_path_factory):
    """``pair_files(looks=4, size=(256, 256), units="linear", nodata_edge=0.0)`` -> {"before", "after", "truth"}
    GeoTIFF paths of a simulated pair (written once per argument set)."""
    cache = {}

    def make(looks=4, size=(256, 256), units="linear", nodata_edge=0.0):
        key = (looks, tuple(size), units, nodata_edge)
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"pair_L{looks}_{size[0]}_{units}")
            cache[key] = sim_pair(looks, size, 0, nodata_edge).write(folder, units=units)
        return cache[key]

    return make
