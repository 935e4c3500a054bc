"""Models in forms other tools read: BioImage.io model packages (``export.bioimageio`` writes one,
``export.model_package`` opens one for ``methods.load``)."""
