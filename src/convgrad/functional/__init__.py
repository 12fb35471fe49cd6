"""``convgrad.functional`` (import as ``F``): PyTorch's ``torch.nn.functional``, in NumPy.

Same names, signatures, layouts (NCL / NCHW) and semantics; where PyTorch raises, these
raise the same exception class with a message naming the argument and the numbers.
"""
# One module per family of operations; each line below re-exports one family.
