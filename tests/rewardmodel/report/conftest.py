"""Round device rates for the cost ledger (tests/rewardmodel/support/roads.py)."""

from tests.rewardmodel.support.roads import device_rates  # noqa: F401
