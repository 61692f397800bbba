"""helpers.registry: the fixed model names, official URLs, sizes and hashes."""

import re

import pytest

from helpers import registry

NAMES = [
    "sam_vit_h", "sam_vit_l", "sam_vit_b", "fastsam_x", "fastsam_s", "mobile_sam",
    "sam2.1_hiera_t", "sam2.1_hiera_s", "sam2.1_hiera_b+", "sam2.1_hiera_l", "conventional",
]


def test_registry_has_exactly_the_fixed_names():
    assert list(registry.REGISTRY) == NAMES


@pytest.mark.parametrize("name", [n for n in NAMES if n != "conventional"])
def test_every_entry_has_official_url_file_size_and_hash(name):
    spec = registry.get_spec(name)
    assert spec.url.startswith("https://") and spec.url.endswith("/" + spec.filename)
    host = re.match(r"https://([^/]+)/", spec.url).group(1)
    assert host in {"dl.fbaipublicfiles.com", "github.com"}
    assert isinstance(spec.size, int) and spec.size > 1_000_000
    assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256), "full sha256 expected"
    assert spec.source, "integrity data must cite its source"


def test_families_and_arch_keys_match_the_brief():
    from segment_anything import sam_model_registry

    for name in ("sam_vit_b", "sam_vit_l", "sam_vit_h"):
        assert registry.get_spec(name).arch in sam_model_registry
    assert registry.get_spec("fastsam_s").arch == "s" and registry.get_spec("fastsam_x").arch == "x"
    assert registry.get_spec("mobile_sam").arch == "vit_t"
    for short in ("t", "s", "b+", "l"):
        spec = registry.get_spec(f"sam2.1_hiera_{short}")
        assert spec.family == "sam2" and spec.arch == f"configs/sam2.1/sam2.1_hiera_{short}.yaml"
    assert registry.get_spec("conventional").url is None


def test_sam_md5_matches_the_hash_in_the_official_file_name():
    for name in ("sam_vit_b", "sam_vit_l", "sam_vit_h"):
        spec = registry.get_spec(name)
        assert spec.filename.removesuffix(".pth").endswith("_" + spec.md5[:6])


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="sam_vit_b.*fastsam_s"):
        registry.get_spec("sam_vit_q")
