"""The operator's controllers, built on `odoo_operator.runtime`, and where they are registered.

`setup(manager, settings)` is the one place every controller of the operator is added to
the manager; `odoo-operator run` calls it before the manager runs. A reader who wants to
know what the operator watches and reconciles starts here.

- `settings`: `OperatorSettings`, the operator's typed defaults (no secrets);
- `resources`: the runtime `Resource` of each of our kinds, derived from the API models;
- `instance/`: the OdooInstance controller (`instance.setup` registers it);
- `jobs/`: the four job controllers and their batch Jobs (`jobs.setup` registers them);
- `schedule/`: the OdooBackupSchedule controller (`schedule.setup` registers it);
- `notify`: webhook notifications, shared by the instance and the job resources;
- `canonical`, `own_writes`: values as the API server stores them; reading our own writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the runtime's manager is only named here; `state-machine` stays light
    from odoo_operator.controllers.schedule.context import Clock
    from odoo_operator.controllers.settings import OperatorSettings
    from odoo_operator.runtime.manager import Manager


def setup(manager: Manager, settings: OperatorSettings, clock: Clock | None = None) -> None:
    """Register every controller of the operator on `manager`, configured by `settings`.

    The OdooInstance controller, then the job controllers, which share its caches, then
    the schedule controller, which shares theirs. `clock`: the schedules' time (tests
    move it; None: the system's).
    """
    # Imported here: `odoo-operator state-machine` loads this package without the runtime.
    from odoo_operator.controllers.instance import setup as instance  # noqa: PLC0415
    from odoo_operator.controllers.jobs import setup as jobs  # noqa: PLC0415
    from odoo_operator.controllers.schedule import setup as schedule  # noqa: PLC0415
    from odoo_operator.controllers.schedule.context import system_clock  # noqa: PLC0415

    reconciler = instance.setup(manager, settings)
    job_reconcilers = jobs.setup(manager, reconciler.ctx)
    schedule.setup(manager, job_reconcilers["backup"].ctx, clock or system_clock)
