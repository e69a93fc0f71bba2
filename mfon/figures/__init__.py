"""Figures of a dataset's results, each drawn from files the pipeline already wrote (PNG, matplotlib's Agg backend).

One module per figure, so that a figure rule lists as code only the module it draws with (and
:mod:`mfon.figures.common`): editing one figure redraws that figure alone.

* :mod:`~mfon.figures.curves`: loss terms and validation metrics by epoch, the kept (best validation MSE) epoch
  marked; one run (MFON or teacher), or every variant of a dataset (mean and band over its seeds).
* :mod:`~mfon.figures.predictions`: predicted vs true scatter and the confusion matrix of the 7 (CH-SIMS: 5)
  classes of one variant, each seed marked.
* :mod:`~mfon.figures.table_chart`: a metric table as grouped bars, the paper's numbers beside ours when the table
  has them.
* :mod:`~mfon.figures.qc`: clips per status and reason, frames per clip, face-found fraction, non-finite values
  replaced.
* :mod:`~mfon.figures.tsne`: the paper's Fig. 4, t-SNE of the saved pooled visual vectors, coloured by 3-class
  sentiment.

Every figure keeps to the report's page (:data:`~mfon.figures.common.PAGE_WIDTH` x ``PAGE_HEIGHT``), and a
variant has the same colour in all of them (:func:`~mfon.figures.common.variant_colour`). Every function checks
its inputs first and raises :class:`MfonError` naming a missing or unreadable file, and returns its (closed)
figure.
"""
