import sys

from runtime_core.cli import main

sys.exit(main())
