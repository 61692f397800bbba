"""OpenAI CLIP ViT-B/32 for FastSAM's text prompts: load it offline, or build a random one for tests.

FastSAM scores each mask's crop against the text with CLIP (as ultralytics' ``FastSAMPredictor`` does).
This needs the ``clip`` package (the ``text`` extra) and the ``ViT-B-32.pt`` weights (:func:`load_clip`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ..config import cache_dir

__all__ = ["CLIP_ARCH", "CLIP_FILENAME", "CLIP_URL", "CLIP_INSTALL_HINT", "ClipScorer", "load_clip",
           "build_random_clip", "default_clip_paths"]

CLIP_ARCH = "ViT-B/32"  # what ultralytics' FastSAMPredictor loads
CLIP_FILENAME = "ViT-B-32.pt"
CLIP_URL = (
    "https://openaipublic.azureedge.net/clip/models/"
    "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt"
)
CLIP_INSTALL_HINT = (
    "text prompts need OpenAI CLIP: pip install clip-anytorch ftfy regex 'setuptools<81' "
    "(or pip install git+https://github.com/ultralytics/CLIP.git)"
)
# ViT-B/32 hyper-parameters (as clip.model.build_model reads them from the official state dict).
_CLIP_VIT_B32 = dict(
    embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=32,
    context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8, transformer_layers=12,
)  # fmt: skip
# Parameter counts separate FastSAM-s (YOLOv8s-seg, ~12M) from FastSAM-x (YOLOv8x-seg, ~72M).


def _import_clip():
    """The OpenAI ``clip`` module, or ImportError with the one line saying what to install."""
    try:
        with warnings.catch_warnings():
            # clip-anytorch imports pkg_resources, whose deprecation notice is not the user's to act on
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            import clip
    except ImportError:
        raise ImportError(CLIP_INSTALL_HINT) from None
    if not (hasattr(clip, "load") and hasattr(clip, "tokenize")):  # PyPI's "clip" is a clipboard tool
        raise ImportError(f"the installed 'clip' package is not OpenAI CLIP; {CLIP_INSTALL_HINT}")
    return clip


def default_clip_paths() -> list[Path]:
    """Where :func:`load_clip` looks for ``ViT-B-32.pt``: the sam-rs cache, then ultralytics' weights dir."""
    paths = [cache_dir() / "clip" / CLIP_FILENAME]
    try:
        from ultralytics.utils import WEIGHTS_DIR

        paths.append(Path(WEIGHTS_DIR) / "clip" / CLIP_FILENAME)
    except ImportError:  # pragma: no cover - ultralytics is a hard dependency
        pass
    return paths


class ClipScorer:
    """CLIP image/text encoders with the interface ultralytics' FastSAMPredictor uses.

    Attributes:
        model: a ``clip.model.CLIP`` module.
        image_preprocess: PIL image -> normalised (3, R, R) tensor (CLIP's own transform).
        device: torch device.
    """

    def __init__(self, model, image_preprocess, device=None):
        import torch

        self.device = torch.device(device or "cpu")
        self.model = model.to(self.device).float().eval()
        self.image_preprocess = image_preprocess

    def tokenize(self, texts):
        """``T`` strings -> int token ids (T, 77) on ``device`` (CLIP's context length; longer texts are cut)."""
        return _import_clip().tokenize(texts, truncate=True).to(self.device)

    def encode_text(self, tokens):
        """Token ids (T, 77) int -> float32 text features (T, 512), L2-normalised per row."""
        import torch

        with torch.inference_mode():
            features = self.model.encode_text(tokens).float()
        return features / features.norm(p=2, dim=-1, keepdim=True)

    def encode_image(self, images):
        """Preprocessed images float (N, 3, 224, 224) -> float32 image features (N, 512), L2-normalised per row."""
        import torch

        with torch.inference_mode():
            features = self.model.encode_image(images).float()
        return features / features.norm(p=2, dim=-1, keepdim=True)

    def similarity(self, crops: list, texts: list[str]):
        """float (T, C) cosine similarity between ``T`` ``texts`` and ``C`` PIL image ``crops``."""
        import torch

        images = torch.stack([self.image_preprocess(crop).to(self.device) for crop in crops])
        return self.encode_text(self.tokenize(texts)) @ self.encode_image(images).T


def load_clip(weights=None, device=None) -> ClipScorer:
    """CLIP ViT-B/32 (what ultralytics' FastSAM uses) from a local checkpoint; never downloads.

    Args:
        weights: path of OpenAI's ``ViT-B-32.pt`` (TorchScript archive or state dict); ``None``
            looks in :func:`default_clip_paths`.
        device: torch device.

    Raises:
        ImportError: the ``clip`` package is missing (the message says what to install).
        FileNotFoundError: no weights file (the message gives the URL and where to put it).
    """
    clip = _import_clip()
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"CLIP weights not found: {path}")
    else:
        path = next((p for p in default_clip_paths() if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(
                f"text prompts need CLIP {CLIP_ARCH} weights: download {CLIP_URL} to {default_clip_paths()[0]}"
            )
    model, preprocess = clip.load(str(path), device="cpu", jit=False)
    return ClipScorer(model, preprocess, device)


def build_random_clip(device=None, seed: int = 0) -> ClipScorer:
    """A randomly initialised CLIP of the real ViT-B/32 architecture (for tests and smoke runs).

    Its text/image similarities are meaningless, but the whole text-prompt path runs as with the
    real weights. Needs the ``clip`` package (see :data:`CLIP_INSTALL_HINT`).
    """
    import torch

    clip = _import_clip()
    from clip.model import CLIP

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = CLIP(**_CLIP_VIT_B32)
    finally:
        torch.random.set_rng_state(generator_state)
    return ClipScorer(model, clip.clip._transform(_CLIP_VIT_B32["image_resolution"]), device)
