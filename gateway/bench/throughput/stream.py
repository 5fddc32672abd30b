"""The stream every throughput part replays: pallets of tags passing a portal, recorded as LLRP bytes."""

from __future__ import annotations

from simulators.llrp.recording import Recording, record
from simulators.llrp.scenario import Scenario, scenario_from_dict

GATEWAY = "gw-bench"  # the gateway id every part's config uses
READER = "portal-1"  # the one reader that reads the stream, at dock-1
PALLETS = 40  # also --quick: a shorter stream would loop faster than depart_after, and give no events
TAGS_PER_PALLET = 100
TAGS_PER_REPORT = 100


def rotating_scenario(pallets: int = PALLETS, tags: int = TAGS_PER_PALLET, read_rate: float = 20.0) -> Scenario:
    """Pallet i passes antennas 1+i%4 and 1+(i+1)%4 from 0.5*i s to 0.5*i + 2 s: four pallets in the field
    at a time, each tag read ``read_rate`` times a second per antenna (80 reads per visit)."""
    return scenario_from_dict(
        {
            "name": "rotating",
            "read_rate": read_rate,
            "rssi_noise_db": 2.0,
            "seed": 8,
            "pallets": [
                {
                    "name": f"pallet-{i + 1}",
                    "location": "dock-1",
                    "tags": [{"sgtin": {"company_prefix": "0614141", "item_reference": f"8{i:05d}", "count": tags}}],
                    "visits": [
                        {
                            "start": 0.5 * i,
                            "end": 0.5 * i + 2.0,
                            "antennas": {1 + i % 4: -50 - i % 7, 1 + (i + 1) % 4: -58 - i % 5},
                        }
                    ],
                }
                for i in range(pallets)
            ],
        }
    )


def rotating_recording() -> Recording:
    """``rotating_scenario()`` as RO_ACCESS_REPORTs of ``TAGS_PER_REPORT`` reads."""
    return record(rotating_scenario(), tags_per_report=TAGS_PER_REPORT)
