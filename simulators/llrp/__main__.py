import sys

from simulators.llrp.cli import main

sys.exit(main(sys.argv[1:]))
