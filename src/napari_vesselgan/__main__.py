"""``python -m napari_vesselgan ...`` (and ``torchrun -m napari_vesselgan train ...``): the ``vesselgan`` command."""

import sys

from napari_vesselgan.cli import main

sys.exit(main())
