"""pellucid's ops, one family per module. Importing this package attaches the methods to Tensor."""
from ._conversion import clone, contiguous, cast, fill_, zero_  # noqa: F401
from ._creation import *  # noqa: F401,F403
from ._creation import range_  # noqa: F401
from ._arith import *  # noqa: F401,F403
from ._pointwise import *  # noqa: F401,F403
from ._compare import *  # noqa: F401,F403
from ._reduce import *  # noqa: F401,F403
from ._linalg import *  # noqa: F401,F403
from ._shape import *  # noqa: F401,F403
from ._joining import *  # noqa: F401,F403
from ._indexing import *  # noqa: F401,F403
from ._random_ops import *  # noqa: F401,F403
from ._sorting import *  # noqa: F401,F403
from ._special_fns import *  # noqa: F401,F403
from ._misc import *  # noqa: F401,F403
