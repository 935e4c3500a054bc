"""Readers and writers for TIFF / OME-TIFF (incl. 16-bit), PNG / JPEG and MP4 / AVI; all writes atomic."""

from .readers import ImageReadError, is_binary_mask, read_any, read_image
from .writers import write_frames, write_image, write_tiff, write_video

__all__ = ["ImageReadError", "is_binary_mask", "read_any", "read_image", "write_frames", "write_image", "write_tiff", "write_video"]
