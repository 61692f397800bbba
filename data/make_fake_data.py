"""Write the small fake (synthetic) data set used by tests into a folder (torchgeo style: a script, a seed).

    .venv/bin/python data/make_fake_data.py OUTDIR [--size 256 256] [--seed 0]

Nothing it writes is committed: the tests build the same files into temporary folders by importing
:func:`write_fake_dataset` from this script. Same seed -> byte-identical pixels; every GeoTIFF has a real
CRS (EPSG:32618). See data/README.md for the layout and what each file is for.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from helpers.data import make_synthetic_scene, write_synthetic_geotiff


def write_fake_dataset(root, size: tuple[int, int] = (256, 256), seed: int = 0) -> dict[str, Path]:
    """Write the small fake data set the tests and ``data/make_fake_data.py`` use (torchgeo style).

    Layout under ``root``::

        optical/buildings.tif              3-band uint8 RGB, EPSG:32618, 0.5 m
        optical/fields_multiband16.tif     4-band uint16 blue/green/red/nir, nodata 0 wedge
        optical/nested/deeper/water.tif    3-band uint8 RGB (a nested folder, for tree mirroring)
        sar/sar_power.tif                  1-band float32 linear power, nodata 0 wedge
        plain/buildings.png                the buildings image as a PNG without georeferencing
        labels/<name>_labels.tif           uint32 instance labels for each GeoTIFF above
        broken/not_a_raster.tif            a text file with a .tif name (bad-input handling)

    Returns:
        name -> path for every file written.
    """
    from PIL import Image

    root = Path(root)
    files = {}
    for name, kind, variant, sub in (
        ("buildings", "buildings", "rgb8", "optical"),
        ("fields_multiband16", "fields", "multiband16", "optical"),
        ("water", "water", "rgb8", "optical/nested/deeper"),
        ("sar_power", "sar", "sar_power", "sar"),
    ):
        labels = root / "labels" / f"{name}_labels.tif"
        files[name] = write_synthetic_geotiff(
            root / sub / f"{name}.tif", kind, size=size, seed=seed, variant=variant, labels_path=labels
        )
        files[f"{name}_labels"] = labels
    scene, _ = make_synthetic_scene("buildings", size=size, seed=seed)
    png = root / "plain" / "buildings.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(scene.image).save(png)
    files["plain_png"] = png
    broken = root / "broken" / "not_a_raster.tif"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("this is not a GeoTIFF\n")
    files["broken"] = broken
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--size", nargs=2, type=int, default=[256, 256], metavar=("ROWS", "COLS"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    files = write_fake_dataset(args.outdir, size=tuple(args.size), seed=args.seed)
    for name, path in files.items():
        print(f"{name:24s} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
