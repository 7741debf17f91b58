"""`import pellucid as torch` gives the same namespace shape as `import torch`."""
import subprocess
import sys


def test_top_level_namespaces_are_there_after_a_plain_import():
    code = ("import pellucid as torch\n"
            "assert torch.nn.Linear and torch.nn.functional.relu and torch.optim.Adam\n"
            "assert torch.utils.data.DataLoader and torch.autograd.grad and torch.linalg.norm\n"
            "assert torch.distributed.is_initialized() is False and torch.cuda.is_available() in (True, False)\n"
            "assert torch.jit.trace and torch.onnx.export and torch.amp.GradScaler\n"
            "import sys; assert 'onnx' not in sys.modules and 'mpi4py' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
