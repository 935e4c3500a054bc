"""napari-vesselgan: generative models for vascular imaging, as a library, a CLI and a napari plugin."""

__version__ = "0.1.0"
