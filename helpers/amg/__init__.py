"""SAM automatic mask generation ("everything" mode): the official algorithm, doing less work.

One concept per module:

* :mod:`~helpers.amg.params`: the official parameters, their documentation and checks;
* :mod:`~helpers.amg.upscale`: ``postprocess_masks`` as region-restricted matrix products, with bounds;
* :mod:`~helpers.amg.decoder`: the mask decoder, reassociated;
* :mod:`~helpers.amg.generator`: the crop pipeline, :func:`generate_sam`.

``from helpers.amg import generate_sam, AMG_DEFAULTS, check_amg_params`` keeps working.
"""

from .generator import generate_sam
from .params import AMG_DEFAULTS, AMG_PARAM_DOCS, check_amg_params, layer_point_grids

__all__ = ["AMG_DEFAULTS", "AMG_PARAM_DOCS", "check_amg_params", "generate_sam", "layer_point_grids"]
