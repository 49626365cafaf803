import sys

from stacker.cli import main

sys.exit(main())
