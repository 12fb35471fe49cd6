"""``convgrad.study``: experiments made of training runs — why residual networks train.

``depth`` (the plan and its runs), ``gradnorms`` (‖∂L/∂W‖ per layer, a measurement),
``cost`` (the estimate before a study starts), ``depth_report`` (the table, the JSON, the
reading of the numbers), ``depth_plots`` (the figures), ``depth_cli`` (``convgrad depth``).

Above ``train`` in the one direction of imports: a study builds on run folders, the
``Trainer`` and its measurements; nothing below imports it.
"""
