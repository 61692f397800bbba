"""The model registry: one :class:`ModelSpec` per name, with official URLs, sizes and hashes.

A leaf module (no torch, no I/O): ``python -m helpers models`` and argument checks read it without
loading anything. Which code builds each family lives in :mod:`helpers.backends`.

Integrity data
    No project publishes sha256 sums for these checkpoints. The sha256 values below are independent
    records of the official files, each cited in a comment, and cross-checked where two or more
    unrelated projects agree. The hex suffix in the SAM file names (``01ec64``...) is the start of the
    file's **md5**, not of its sha256 (so it is not the torch-hub sha256-prefix convention); the full
    md5 is recorded and verified too. Every entry has an exact size in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UserInputError

__all__ = ["ModelSpec", "REGISTRY", "FAMILIES", "get_spec", "list_models", "spec_with_weights"]

FAMILIES = ("sam", "mobile_sam", "sam2", "fastsam", "conventional")


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Attributes:
        name: registry name.
        family: ``"sam"``, ``"mobile_sam"``, ``"sam2"``, ``"fastsam"`` or ``"conventional"``.
        arch: architecture key inside the family: segment_anything registry key (``"vit_b"``),
            ``"vit_t"`` (MobileSAM), FastSAM size (``"s"``/``"x"``), SAM 2 hydra config path
            (``"configs/sam2.1/sam2.1_hiera_t.yaml"``) or ``"skimage"``.
        url: official download URL (``None`` for models without weights).
        filename: file name in the cache (the official one).
        size: exact size in bytes (``None`` if unknown).
        sha256: full sha256 of the official file, when one is recorded (source in ``source``).
        sha256_prefix: hash prefix embedded in the file name (torch-hub convention), when that is all.
        md5: full md5 of the official file, when recorded (SAM file names embed its first 6 digits).
        source: where the integrity data comes from.
        description: one line for tables.
        weights_only: the checkpoint loads with ``torch.load(weights_only=True)`` (tensors only). ``False``
            for full pickles (ultralytics ``.pt``), which can run code when loaded: those are hashed at
            every load (:mod:`helpers.weights`) and user-supplied ones are loaded with ultralytics' safe
            loading.
    """

    name: str
    family: str
    arch: str
    url: str | None = None
    filename: str | None = None
    size: int | None = None
    sha256: str | None = None
    sha256_prefix: str | None = None
    md5: str | None = None
    source: str = ""
    description: str = ""
    weights_only: bool = True

    @property
    def has_weights(self) -> bool:
        return self.url is not None

    def integrity(self) -> str:
        """Short text for tables: the strongest check that is applied to this file."""
        if self.sha256:
            return f"sha256 {self.sha256[:12]}..." + (" + md5" if self.md5 else "")
        if self.sha256_prefix:
            return f"sha256 prefix {self.sha256_prefix}"
        if self.size:
            return "size only"
        return "-" if not self.has_weights else "none"


REGISTRY: dict[str, ModelSpec] = {}


def _register(spec: ModelSpec) -> None:
    REGISTRY[spec.name] = spec


_SAM = "https://dl.fbaipublicfiles.com/segment_anything"
_SAM21 = "https://dl.fbaipublicfiles.com/segment_anything_2/092824"
_ULTRA = "https://github.com/ultralytics/assets/releases/download/v8.4.0"
_MOBILE = "https://github.com/ChaoningZhang/MobileSAM/raw/master/weights"

# Sources of the integrity data (URLs from the official READMEs / download scripts):
# [micro-sam]  computational-cell-analytics/micro-sam, micro_sam/util.py (pooch registry: SAM vit_h/l/b and
#              MobileSAM "vit_t" sha256) and micro_sam/v2/util.py (HASHES["sam2.1"]: the four SAM 2.1 sha256).
#              The same sha256 values are pinned, with the same byte sizes, by many unrelated projects
#              found with the search tool (e.g. Docker/setup scripts that run `sha256sum -c` on downloads).
# [md5]        Sanster/IOPaint, iopaint/plugins/segment_anything.py (SEGMENT_ANYTHING_MODELS md5); the first
#              six digits equal the suffix Meta put in each file name.
# [sizes]      SAM: wget "Length: 375042383" log and several manifests listing 375042383 / 1249524607 /
#              2564550879; SAM 2.1: manifests listing 156008466 / 184416285 / 323606802 / 898083611.
# [fastsam]    Manifests pinning FastSAM-s.pt 23,851,578 B sha256 c9f78716... for the ultralytics/assets v8.4.0
#              release asset (also the v8.2.0/v8.3.0 assets, same bytes); FastSAM-x.pt 144,972,346 B sha256
#              752cadc2... is recorded for the v8.2.0 asset and the v8.4.0 asset has the same size (recorded by
#              another project); ultralytics 8.4 downloads from release v8.4.0 (utils/downloads.py).
# [mobilesam]  ChaoningZhang/MobileSAM weights/mobile_sam.pt: 40,728,226 B, sha256 6dbb9052... ([micro-sam] vit_t and
#              projects pinning commit f706ad9 of that repository).
# SAM 2.1 URLs: facebookresearch/sam2 checkpoints/download_ckpts.sh and README (SAM 2.1, released 2024-09-29).
# Meta, Ultralytics and MobileSAM publish no checksums themselves: if an upstream file is ever replaced,
# the download fails verification (one line) instead of loading unknown bytes.
# fmt: off
_register(ModelSpec("sam_vit_h",      "sam",          "vit_h", f"{_SAM}/sam_vit_h_4b8939.pth",      "sam_vit_h_4b8939.pth",      2564550879, sha256="a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e", md5="4b8939a88964f0f4ff5f5b2642c598a6", source="[micro-sam] sha256, [md5], [sizes]", description="SAM ViT-H (636M params), best quality, slowest"))  # noqa: E501
_register(ModelSpec("sam_vit_l",      "sam",          "vit_l", f"{_SAM}/sam_vit_l_0b3195.pth",      "sam_vit_l_0b3195.pth",      1249524607, sha256="3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622", md5="0b3195507c641ddb6910d2bb5adee89c", source="[micro-sam] sha256, [md5], [sizes]", description="SAM ViT-L (308M params)"))  # noqa: E501
_register(ModelSpec("sam_vit_b",      "sam",          "vit_b", f"{_SAM}/sam_vit_b_01ec64.pth",      "sam_vit_b_01ec64.pth",      375042383,  sha256="ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912", md5="01ec64d29a2fca3f0661936605ae66f8", source="[micro-sam] sha256, [md5], [sizes]", description="SAM ViT-B (91M params), the CPU-friendly SAM"))  # noqa: E501
_register(ModelSpec("fastsam_x",      "fastsam",      "x",     f"{_ULTRA}/FastSAM-x.pt",            "FastSAM-x.pt",              144972346,  sha256="752cadc2828edb1cd4bc4f9eb587100631af06ea2108f4c9ed56df4755701e76", source="[fastsam]", description="FastSAM-x (YOLOv8x-seg, 68M params), ultralytics pickle", weights_only=False))  # noqa: E501
_register(ModelSpec("fastsam_s",      "fastsam",      "s",     f"{_ULTRA}/FastSAM-s.pt",            "FastSAM-s.pt",              23851578,   sha256="c9f78716a81c7aff0d608ccc73e1b82ab3aaad86005049f6a92106a0be6d0844", source="[fastsam]", description="FastSAM-s (YOLOv8s-seg, 12M params), ultralytics pickle", weights_only=False))  # noqa: E501
_register(ModelSpec("mobile_sam",     "mobile_sam",   "vit_t", f"{_MOBILE}/mobile_sam.pt",          "mobile_sam.pt",             40728226,   sha256="6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f", source="[mobilesam], [micro-sam]", description="MobileSAM (TinyViT encoder, 10M params) + SAM decoder"))  # noqa: E501
_register(ModelSpec("sam2.1_hiera_t", "sam2",         "configs/sam2.1/sam2.1_hiera_t.yaml",  f"{_SAM21}/sam2.1_hiera_tiny.pt",      "sam2.1_hiera_tiny.pt",      156008466, sha256="7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69", source="[micro-sam] v2, [sizes]", description="SAM 2.1 Hiera-T (39M params)"))  # noqa: E501
_register(ModelSpec("sam2.1_hiera_s", "sam2",         "configs/sam2.1/sam2.1_hiera_s.yaml",  f"{_SAM21}/sam2.1_hiera_small.pt",     "sam2.1_hiera_small.pt",     184416285, sha256="6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38", source="[micro-sam] v2, [sizes]", description="SAM 2.1 Hiera-S (46M params)"))  # noqa: E501
_register(ModelSpec("sam2.1_hiera_b+", "sam2",        "configs/sam2.1/sam2.1_hiera_b+.yaml", f"{_SAM21}/sam2.1_hiera_base_plus.pt", "sam2.1_hiera_base_plus.pt", 323606802, sha256="a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5", source="[micro-sam] v2, [sizes]", description="SAM 2.1 Hiera-B+ (81M params)"))  # noqa: E501
_register(ModelSpec("sam2.1_hiera_l", "sam2",         "configs/sam2.1/sam2.1_hiera_l.yaml",  f"{_SAM21}/sam2.1_hiera_large.pt",     "sam2.1_hiera_large.pt",     898083611, sha256="2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318", source="[micro-sam] v2, [sizes]", description="SAM 2.1 Hiera-L (224M params)"))  # noqa: E501
_register(ModelSpec("conventional",   "conventional", "skimage", description="scikit-image baseline (Felzenszwalb / SLIC / watershed), no weights"))  # noqa: E501
# fmt: on



def get_spec(name: str) -> ModelSpec:
    """Registry entry for ``name``; a one-line ``ValueError`` listing the valid names otherwise."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise UserInputError(f"unknown model {name!r}; choose one of: {', '.join(REGISTRY)}") from None


def spec_with_weights(name: str) -> ModelSpec:
    """Registry entry for ``name``, which must have a checkpoint (``conventional`` has none)."""
    spec = get_spec(name)
    if not spec.has_weights:
        raise UserInputError(f"{name} has no weights")
    return spec


def list_models() -> list[str]:
    """Registry names, in table order."""
    return list(REGISTRY)
