"""Change detection between two dates.

SAR (the log-ratio pipeline, one concept per module):

* :mod:`~helpers.change.sar`: units, speckle filters (boxcar, Lee), the log-ratio, the 8-bit difference image;
* :mod:`~helpers.change.thresholds`: Otsu, Kittler-Illingworth, manual;
* :mod:`~helpers.change.align`: grids of two dates, resampling the second onto the first;
* :mod:`~helpers.change.difference`: the windowed pass writing the log-ratio raster;
* :mod:`~helpers.change.components`: connected change objects of the thresholded map, windowed;
* :mod:`~helpers.change.segment`: change objects by method (threshold, FastSAM, SAM, SAM prompted);
* :mod:`~helpers.change.vectors`: per-object statistics, change polygons, the change GeoTIFF;
* :mod:`~helpers.change.pipeline`: one pair (``change_pair``, ``detect_change``);
* :mod:`~helpers.change.batch`: folder trees of pairs (``change_batch``, the ``change`` command);
* :mod:`~helpers.change.simulate`: simulated SAR pairs with known change;
* :mod:`~helpers.change.metrics`: F1, false-alarm and missed-detection rates, kappa;
* :mod:`~helpers.change.evaluate`: every method and filter scored on simulated pairs.

Optical:

* :mod:`~helpers.change.optical`: water indices (pseudo-references), reading optical dates;
* :mod:`~helpers.change.objects`: object change across dates (appeared, disappeared, grown, shrunk, stable).
"""
