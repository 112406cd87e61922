"""``python -m gradflow``: the same as the ``gradflow`` command."""

import sys

from gradflow.cli import main

if __name__ == "__main__":
    sys.exit(main())
