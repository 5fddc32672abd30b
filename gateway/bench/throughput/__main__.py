import sys

from gateway.bench.throughput.report import main

sys.exit(main())
