"""``convgrad.study``: experiments made of training runs — why residual networks train.

    convgrad depth                        plain and residual networks of several depths
    convgrad landscape RUN [RUN2 ...]     the loss surface around a trained network
                                          (Li et al. 2018) and its Hessian's extremes

The depth study: ``depth`` (the plan and its runs), ``gradnorms`` (‖∂L/∂W‖ per layer, a
measurement), ``cost`` (the estimate before a study starts), ``depth_report`` (the table,
the JSON, the reading of the numbers), ``depth_plots`` (the figures), ``depth_cli``
(``convgrad depth``).

The landscape: ``weights`` (a model's parameters as one flat vector), ``directions`` (Li
et al.'s filter-normalised random directions), ``evaluation`` (loss, accuracy and gradient
on a fixed training subset), ``hessian`` (Hessian-vector products, Lanczos and power
iteration), ``landscape`` (the 1-D profiles and the 2-D grid, resumable),
``landscape_store`` (its folder on disk), ``landscape_plot`` (the PNGs), ``landscape_cli``
(``convgrad landscape``).

Above ``train`` in the one direction of imports: a study builds on run folders, the
``Trainer`` and its measurements; nothing below imports it but the command line and the
explorer.
"""
