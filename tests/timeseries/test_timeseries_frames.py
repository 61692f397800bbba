"""Frames for SAM 2 from memory, exactly as sam2's own loader makes them from files (helpers.timeseries.frames)."""

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.timeseries.frames import VideoFrames, frame_tensor, official_predictor_hooks


def official_tensor(path, image_size):
    """sam2's JPEG-folder loader for one file: _load_img_as_tensor, float32 batch, normalised."""
    import inspect

    from sam2.utils.misc import _load_img_as_tensor, load_video_frames

    defaults = inspect.signature(load_video_frames).parameters
    mean = torch.tensor(defaults["img_mean"].default, dtype=torch.float32)[:, None, None]
    std = torch.tensor(defaults["img_std"].default, dtype=torch.float32)[:, None, None]
    images = torch.zeros(1, 3, image_size, image_size, dtype=torch.float32)
    images[0], height, width = _load_img_as_tensor(str(path), image_size)
    images -= mean
    images /= std
    return images[0], (height, width)


@pytest.mark.parametrize("image_size", [128, 1024])
def test_a_frame_in_memory_is_bit_identical_to_sam2s_loader(tmp_path, image_size):
    image = np.random.default_rng(1).integers(0, 256, (45, 70, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "00000.png")  # lossless: the loader sees these very pixels
    expected, size = official_tensor(tmp_path / "00000.png", image_size)
    assert size == (45, 70)
    assert torch.equal(frame_tensor(image, image_size), expected)


def test_video_frames_read_one_date_per_access():
    images = [np.full((20, 30, 3), v, np.uint8) for v in (10, 200)]
    frames = VideoFrames(images, image_size=128)
    assert len(frames) == 2 and (frames.height, frames.width) == (20, 30)
    reads = frames.reads
    assert frames[1].shape == (3, 128, 128) and frames.reads == reads + 1
    assert frames[1].mean() > frames[0].mean()
    with pytest.raises(IndexError):
        frames[2]


def test_the_hooks_hand_frames_to_init_state_and_are_restored():
    import sam2.sam2_video_predictor as video_module

    saved = video_module.load_video_frames, video_module.tqdm
    frames = VideoFrames([np.zeros((8, 8, 3), np.uint8)], image_size=128)
    with pytest.raises(RuntimeError, match="inside"), official_predictor_hooks(frames):
        loaded = video_module.load_video_frames(video_path="ignored", image_size=128)
        assert loaded == (frames, 8, 8)
        assert list(video_module.tqdm([1, 2], desc="x")) == [1, 2]
        raise RuntimeError("inside")
    assert (video_module.load_video_frames, video_module.tqdm) == saved
