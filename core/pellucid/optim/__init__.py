"""`pellucid.optim`: optimizers and learning-rate schedules."""
from .optimizer import Optimizer  # noqa: F401
from ._optimizers import SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam  # noqa: F401
from . import lr_scheduler  # noqa: F401
