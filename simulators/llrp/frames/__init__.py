"""LLRP 1.0.1 on the wire, as the simulated reader speaks it; written apart from the driver's codec so
that a mistake in one is caught by the other.

- ``codes.py``: the numbers LLRP assigns (message and parameter types, status codes);
- ``codec.py``: the header, the incremental frame parser, the parameter walker, ``message`` and ``tlv``;
- ``messages.py``: the messages and event parameters a reader sends;
- ``tag_reports.py``: TagReportData and the content selector.

Callers use the one namespace, ``from simulators.llrp import frames as f``: ``f.P_ROSPEC``, ``f.tlv``,
``f.ro_access_report``. The modules above are how it is built.
"""

from simulators.llrp.frames.codec import *  # noqa: F403  (the package is one namespace: see above)
from simulators.llrp.frames.codes import *  # noqa: F403
from simulators.llrp.frames.messages import *  # noqa: F403
from simulators.llrp.frames.tag_reports import *  # noqa: F403
