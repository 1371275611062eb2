"""Drop-in for `flash_mla.flash_mla_interface`: the FlashMLA names snapmla provides."""
from .interface import FlashMLASchedMeta, flash_mla_with_kvcache, get_mla_metadata

__all__ = ["FlashMLASchedMeta", "flash_mla_with_kvcache", "get_mla_metadata"]
