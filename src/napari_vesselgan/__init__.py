"""napari-vesselgan: generative models for vascular imaging, as a library, a CLI and a napari plugin."""

__version__ = "0.1.0"


class InvalidInput(ValueError):
    """A problem with what a user handed us (an image, a file, a setting), said in one line.

    The command line prints these as one-line errors (exit status 2) and the widgets as
    notifications; any other exception is a bug and keeps its traceback. A ValueError, so
    code that catches ValueError keeps working.
    """
