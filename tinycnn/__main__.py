"""``python -m tinycnn train | eval | predict | summary``: see tinycnn/cli.py."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
