"""How long tests let a short-lived process run: guards against a hang, not speed bounds.

A command that takes a second alone (a Python CLI importing click and botocore) was
seen to take over 60 s on a two-core machine running two test suites side by side.
"""

from __future__ import annotations

COMMAND_GUARD = 240.0
"""A short command (`odoo-operator job` with bad flags, an import probe) and a clean stop."""

JOB_STEP_GUARD = 300
"""A sandbox step run by real processes (a backup, restore or upgrade Job's runner, pods
stopped and started): a restore took over 120 s at load 25."""
