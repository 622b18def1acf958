import sys

from nascore.cli import main

sys.exit(main())
