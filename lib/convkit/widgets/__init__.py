"""Interactive widgets of the course, one module per widget.

Each module has a pure ``*_state(...)`` function (numbers in, facts out), a pure
``draw_*(state, fig)`` function, and a thin ipywidgets constructor:

* :func:`convkit.widgets.stepper.stepper` -- slide a kernel one output position at a time;
* :func:`convkit.widgets.explorer.explorer` -- padding, stride and dilation on a grid;
* :func:`convkit.widgets.playground.playground` -- edit a kernel, see it filter an image;
* :func:`convkit.widgets.template.template_matcher` -- a patch as kernel, plain vs normalised;
* :func:`convkit.widgets.params.parameter_counter` -- dense against convolution parameter counts.
"""
