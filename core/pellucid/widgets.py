"""`pellucid.widgets`: the notebook views of the `pellucid_widgets` package (GraphWidget, Stepper,
GradientView, LivePlot, TrainingDashboard, show), loaded on first use. They need the notebook
extra: pip install 'pellucid[notebook]'."""

__all__ = ["GraphWidget", "Stepper", "GradientView", "LivePlot", "TrainingDashboard", "StopTraining", "show"]


def _missing(e):
    return ImportError("pellucid.widgets needs the notebook extra: pip install 'pellucid[notebook]' "
                       f"(missing module: {e.name or e})")


def __getattr__(name):
    if name not in __all__ and name != "panel":
        raise AttributeError(f"module 'pellucid.widgets' has no attribute {name!r}")
    try:
        import pellucid_widgets
        return getattr(pellucid_widgets, name)      # loads ipywidgets / bokeh on first use
    except ImportError as e:
        raise _missing(e) from e


def __dir__():
    return sorted(set(globals()) | set(__all__))
