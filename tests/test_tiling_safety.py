"""Tiled inference under hostile use (issue 11): prompt counts cost linear time and bounded memory."""

import numpy as np

from helpers import tiling
from helpers.models import load_model


def test_prompts_are_predicted_and_merged_in_bounded_chunks(monkeypatch):
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3)).astype(np.uint8)
    seen = []
    real = tiling._merge_tile

    def recording(tile, masks, *args, **kwargs):
        seen.append(len(masks))
        return real(tile, masks, *args, **kwargs)

    monkeypatch.setattr(tiling, "_merge_tile", recording)
    points = np.random.default_rng(1).uniform(0, 63, size=(300, 2))
    result = tiling.segment_tiled(load_model("conventional"), image, mode="points", prompts={"points": points},
                                  tile_size=64, overlap=0, progress=False)
    assert len(result) == 300 and sum(seen) == 300
    # never one tile-sized mask per prompt of the whole tile at once (100k prompts = 400 GB at 1024 px)
    assert max(seen) <= tiling.PROMPT_CHUNK < 300


def test_the_progress_bar_counts_prompts(monkeypatch):
    import tqdm.auto

    bars = []
    real = tqdm.auto.tqdm

    def recording(*args, **kwargs):
        bar = real(*args, **{**kwargs, "disable": True})
        bars.append(kwargs)
        return bar

    monkeypatch.setattr(tqdm.auto, "tqdm", recording)
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3)).astype(np.uint8)
    points = np.random.default_rng(1).uniform(0, 63, size=(70, 2))
    tiling.segment_tiled(load_model("conventional"), image, mode="points", prompts={"points": points},
                         tile_size=64, overlap=0, progress=True)
    assert any(b.get("unit") == "prompt" and b.get("total") == 70 for b in bars)
