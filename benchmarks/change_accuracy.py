"""Change-detection accuracy on simulated SAR pairs with known change: every method, filter and threshold.

    .venv/bin/python benchmarks/change_accuracy.py [--size 256] [--looks 1 4] [--seed 0]
        [--methods threshold fastsam sam sam-prompted] [--landscape synthetic landsat]

The pairs are SIMULATED (helpers.change.simulate): a land-cover map (a synthetic landscape, or one derived
from the real Landsat 2020 Pucallpa scene, cropped to --size), C-band backscatter per class, four known
changes (flooded field, new building block, cleared patch, drained pond), natural variation that is not
change, and Gamma speckle of L looks. Each configuration runs the real pipeline (files written and read
back) and its change GeoTIFF is scored against the truth: F1, false-alarm rate, missed-detection rate,
kappa. The "naive" row is the recipe with the classic mistakes (dB images divided, epsilon after the
division), everything else equal. Model methods use smoke (untrained) weights unless real weights are
cached and SAMRS_SMOKE is unset: their rows then say smoke=yes and are meaningless.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import helpers  # noqa: E402
from helpers.bench import hardware_line  # noqa: E402
from helpers.change.evaluate import SCORE_TABLE_COLUMNS, evaluate_simulated  # noqa: E402
from helpers.smoke import SMOKE_BANNER  # noqa: E402
from helpers.tables import print_table  # noqa: E402

MODEL_PARAMS = {"fastsam": {"imgsz": 1024}, "sam": {"points_per_side": 32}}


def landsat_classes(size: int):
    """Land cover from the Landsat 2020 Pucallpa scene, a size x size crop across the river."""
    bands, valid, _ = helpers.read_bands(helpers.real_data_path("landsat_pucallpa_2020"), helpers.LANDSAT_BANDS)
    classes = helpers.classes_from_optical(bands["swir1"], bands["nir"], bands["red"], bands["green"], valid)
    return classes[: min(size, classes.shape[0]), 200: 200 + size]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="simulated scene side (pixels, 10 m)")
    parser.add_argument("--looks", type=float, nargs="+", default=[1, 4])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--filters", nargs="+", default=["none", "boxcar:5", "lee:5"])
    parser.add_argument("--thresholds", nargs="+", default=["otsu", "ki", "3"])
    parser.add_argument("--methods", nargs="+", default=["threshold"],
                        choices=["threshold", "fastsam", "sam", "sam-prompted"])
    parser.add_argument("--landscape", nargs="+", default=["synthetic"], choices=["synthetic", "landsat"])
    parser.add_argument("--imgsz", type=int, default=None, help="FastSAM input size (default 1024)")
    parser.add_argument("--points-per-side", type=int, default=None, help="SAM automatic grid (default 32)")
    args = parser.parse_args(argv)
    print(hardware_line())
    params = {}
    if args.imgsz:
        params["imgsz"] = args.imgsz
    if args.points_per_side:
        params["points_per_side"] = args.points_per_side
    for landscape in args.landscape:
        classes = landsat_classes(args.size) if landscape == "landsat" else None
        rows = []
        for method in args.methods:
            method_params = {k: v for k, v in params.items() if k in MODEL_PARAMS.get(method, {})}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", helpers.UntrainedWeightsWarning)
                rows += evaluate_simulated(looks=args.looks, filters=args.filters, thresholds=args.thresholds,
                                           methods=(method,), size=(args.size, args.size), seed=args.seed,
                                           classes=classes, params=method_params or None,
                                           naive=method == args.methods[0], progress=False)
        title = (f"SIMULATED SAR pairs, {landscape} landscape, {args.size} px, seed {args.seed} "
                 "(scores against the simulation's known change)")
        print()
        print_table(rows, SCORE_TABLE_COLUMNS, title=title)
        if any(row["smoke"] for row in rows):
            print(f"smoke=yes rows: {SMOKE_BANNER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
