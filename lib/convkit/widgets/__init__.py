"""Interactive widgets of the course, one module per widget, one family on anywidget.

Each module has a pure ``*_state(...)`` function (numbers in, facts out,
tested against torch), an ES module in ``static/`` that draws the state in the
browser, and a short subclass of :class:`convkit.widgets.base.ConvWidget`:

* :func:`convkit.widgets.explorer.explorer` -- padding, stride, dilation, groups and
  transposed convolutions, input, weight and output linked by hover;
* :func:`convkit.widgets.stepper.stepper` -- slide a kernel one output position at a
  time, with the per-channel partial sums of a multichannel input;
* :func:`convkit.widgets.playground.playground` -- type a kernel, see it filter an image;
* :func:`convkit.widgets.template.template_matcher` -- a patch as kernel, plain vs normalised;
* :func:`convkit.widgets.params.parameter_counter` -- dense against convolution parameter counts.
"""
