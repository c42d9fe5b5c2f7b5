"""The README's Python example runs as written, offline, and prints what its comments say."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_python_example_runs_offline(tmp_path: Path) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    assert len(blocks) == 1
    script = tmp_path / "example.py"
    script.write_text(blocks[0], encoding="utf-8")
    # No key and no proxy from the caller's environment: it must need neither.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NVIDIA_", "MODULES_"))}
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert (done.returncode, done.stderr) == (0, "")
    scores, titles = done.stdout.splitlines()
    assert len(json.loads(scores)) == 2
    assert titles == "['Dune', 'Emma']"
