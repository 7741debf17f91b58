"""The extension's own unit tests (DOT escaping, collapsing, schema handling), run with Node's
test runner (sources transpiled in memory)."""
import os
import shutil
import subprocess

import pytest

EXT = os.path.join(os.path.dirname(__file__), "..", "extension")


def test_extension_unit_tests_pass():
    node = shutil.which("node")
    if node is None or not os.path.isdir(os.path.join(EXT, "node_modules", "typescript")):
        pytest.skip("Node.js or the extension's node_modules are missing: run bash .ci/setup")
    res = subprocess.run([node, "--test", "test/dot.test.cjs", "test/schema.test.cjs"], cwd=EXT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "# fail 0" in res.stdout and "# pass " in res.stdout
