"""``convgrad.study``: experiments about why networks train, built on run folders.

    convgrad landscape RUN [RUN2 ...]     the loss surface around a trained network
                                          (Li et al. 2018) and its Hessian's extremes

One concern per module: ``weights`` (a model's parameters as one flat vector),
``directions`` (Li et al.'s filter-normalised random directions), ``evaluation`` (loss,
accuracy and gradient on a fixed training subset), ``hessian`` (Hessian-vector products
and power iteration), ``landscape`` (the 1-D profiles and the 2-D grid, resumable),
``landscape_store`` (its folder on disk), ``landscape_plot`` (the PNGs),
``landscape_cli`` (the command).

Imports go one way: study reads ``train`` (run folders, ``load_run``), ``models``, ``nn``
and ``data``; nothing but the command line and the explorer imports study.
"""
