import sys

from maxsight_app.cli import main

sys.exit(main())
