"""Frames for SAM 2's video predictor, straight from memory: no JPEG, no copy of the whole video.

SAM 2's ``SAM2VideoPredictor.init_state`` reads a video only from an MP4 file or a folder of JPEG files
(``sam2.utils.misc.load_video_frames``), and holds every frame as a float32 tensor of
``image_size``² pixels (12 MB per frame at 1024, whether on the GPU or, with
``offload_video_to_cpu``, in RAM). For satellite and aerial time series both are wrong: JPEG adds block
artefacts and colour shifts to the very pixels that are compared date by date, and a long series does
not fit.

:class:`VideoFrames` is what the predictor keeps instead (it only ever indexes ``images[i]`` and asks
``len(images)``): each access reads date ``i`` from the :class:`~helpers.timeseries.stack.TimeStack`
(on its grid, with its stack-wide stretch) and converts it exactly as sam2's own loader converts a
decoded frame (:func:`frame_tensor`), so frames are **lossless and in memory**, and memory does not grow
with the number of dates (the predictor caches the features of the last frame only).
:func:`official_predictor_hooks` hands the frames to the official ``init_state`` (which then builds its
inference state as usual).
"""

from __future__ import annotations

import contextlib
import inspect

import numpy as np

__all__ = ["VideoFrames", "frame_tensor", "official_predictor_hooks", "sam2_normalisation"]


def sam2_normalisation() -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The (mean, std) sam2's video loader normalises frames with (read from its signature)."""
    from sam2.utils.misc import load_video_frames

    parameters = inspect.signature(load_video_frames).parameters
    return tuple(parameters["img_mean"].default), tuple(parameters["img_std"].default)


def frame_tensor(image: np.ndarray, image_size: int, mean=None, std=None):
    """An HxWx3 uint8 frame as SAM 2's video predictor takes it: a float32 (3, S, S) tensor.

    The same steps as sam2's ``_load_img_as_tensor`` + ``load_video_frames_from_jpg_images`` applied to a
    decoded image: PIL resize to ``image_size`` x ``image_size`` (PIL's default filter), divide by 255,
    channels first, float32, subtract ``mean`` and divide by ``std`` (default: sam2's ImageNet values).
    """
    import torch
    from PIL import Image

    if mean is None or std is None:
        mean, std = sam2_normalisation()
    resized = np.array(Image.fromarray(np.ascontiguousarray(image)).convert("RGB").resize((image_size, image_size)))
    tensor = torch.from_numpy(resized / 255.0).permute(2, 0, 1).to(torch.float32)
    tensor -= torch.tensor(mean, dtype=torch.float32)[:, None, None]
    tensor /= torch.tensor(std, dtype=torch.float32)[:, None, None]
    return tensor


class VideoFrames:
    """A time series as SAM 2's ``inference_state["images"]``: ``frames[i]`` is date ``i``'s tensor.

    Args:
        stack: anything with ``len()`` whose items are :class:`helpers.scene.Scene` (a ``TimeStack``) or
            HxWx3 uint8 arrays.
        image_size: the predictor's input side (``predictor.image_size``).

    Attributes:
        reads: how many frames were read so far (each access reads one date; the predictor caches the
            features of the frame it encoded last).
    """

    def __init__(self, stack, image_size: int):
        self.stack = stack
        self.image_size = int(image_size)
        self.mean, self.std = sam2_normalisation()
        self.reads = 0
        first = self._image(0)
        self.height, self.width = int(first.shape[0]), int(first.shape[1])

    def _image(self, index: int) -> np.ndarray:
        item = self.stack[index]
        return getattr(item, "image", item)

    def __len__(self) -> int:
        return len(self.stack)

    def __getitem__(self, index: int):
        if not 0 <= int(index) < len(self):
            raise IndexError(f"frame {index} out of range (0..{len(self) - 1})")
        self.reads += 1
        return frame_tensor(self._image(int(index)), self.image_size, self.mean, self.std)


@contextlib.contextmanager
def official_predictor_hooks(frames: VideoFrames, progress=None):
    """Let the official ``SAM2VideoPredictor`` read ``frames`` from memory and report progress our way.

    Inside the block, ``predictor.init_state(video_path=...)`` takes ``frames`` instead of loading a video
    (``video_path`` is ignored), and ``propagate_in_video`` iterates without its own tqdm bar (``progress``
    is called with each processed frame index instead, when given). Everything else is sam2's own code.
    The hooks are module attributes of ``sam2.sam2_video_predictor``, restored on exit (do not run two
    trackers in parallel threads).
    """
    import sam2.sam2_video_predictor as video_module

    def load_from_memory(video_path=None, image_size=None, **_options):
        if image_size is not None and int(image_size) != frames.image_size:
            raise ValueError(f"frames were prepared for image_size {frames.image_size}, the predictor wants {image_size}")
        return frames, frames.height, frames.width

    def quiet_progress(iterable, *args, **kwargs):
        for item in iterable:
            yield item
            if progress is not None:
                progress(item)

    saved = video_module.load_video_frames, video_module.tqdm
    video_module.load_video_frames, video_module.tqdm = load_from_memory, quiet_progress
    try:
        yield
    finally:
        video_module.load_video_frames, video_module.tqdm = saved
