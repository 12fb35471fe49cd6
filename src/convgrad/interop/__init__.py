"""Interoperability with other libraries.  ``convgrad.interop.torch`` moves state dicts,
layers and the registry's models to and from PyTorch; it imports torch, so it is not
imported by ``import convgrad``."""
