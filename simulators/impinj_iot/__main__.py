import sys

from simulators.impinj_iot.cli import main

sys.exit(main())
