"""`pellucid.nn.functional`: the stateless forms of the layers, one family per file."""
from ._activation import *  # noqa: F401,F403
from ._loss import *  # noqa: F401,F403
from ._linear import *  # noqa: F401,F403
from ._dropout import *  # noqa: F401,F403
from ._embedding import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._pooling import *  # noqa: F401,F403
from ._normalization import *  # noqa: F401,F403
from ._vision import *  # noqa: F401,F403
from ._attention import *  # noqa: F401,F403
from ._distance import *  # noqa: F401,F403
from ._rnn import *  # noqa: F401,F403
from ._padding import *  # noqa: F401,F403
