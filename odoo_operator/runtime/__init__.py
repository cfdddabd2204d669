"""A small controller-runtime for asyncio on kubernetes_asyncio; it knows nothing about Odoo.

What later code uses (everything else is machinery):

- `Manager`, `ManagerOptions`, `run_manager`: the process (servers, caches, leader
  election, controllers, SIGTERM handling);
- `Manager.controller(name, reconciler).for_(KIND).owns(KIND).watches(KIND, mapper)`;
- `Reconciler` (`async reconcile(key) -> Result`), `Result`, `DONE`, `TerminalError`;
- `Manager.lister(KIND)` (`Lister`: get, list, by_index), `Manager.informer(KIND)`;
- `Manager.applier` (`Applier.apply` / `apply_status`: server-side apply that skips
  no-op writes) and `Manager.recorder` (`EventRecorder.record`);
- `Resource` and the built-in kinds in `resources`; `ObjectKey`, `thaw`.

See docs/runtime.md.
"""

from odoo_operator.runtime.apply import Applied, Applier
from odoo_operator.runtime.cache import Lister
from odoo_operator.runtime.client import ApiError, ClientConfigError, KubeClient
from odoo_operator.runtime.controller import Controller
from odoo_operator.runtime.events import EventRecorder
from odoo_operator.runtime.handler import Mapper
from odoo_operator.runtime.informer import Informer
from odoo_operator.runtime.manager import (
    CacheSyncTimeout,
    ConfigurationError,
    LeaderElectionLost,
    Manager,
    ManagerError,
    RunnableFailed,
    run_manager,
)
from odoo_operator.runtime.objects import KubeObject, ObjectKey, thaw
from odoo_operator.runtime.options import ManagerOptions
from odoo_operator.runtime.reconcile import DONE, Reconciler, Result, TerminalError
from odoo_operator.runtime.resources import Resource

__all__ = [
    "DONE",
    "ApiError",
    "Applied",
    "Applier",
    "CacheSyncTimeout",
    "ClientConfigError",
    "ConfigurationError",
    "Controller",
    "EventRecorder",
    "Informer",
    "KubeClient",
    "KubeObject",
    "LeaderElectionLost",
    "Lister",
    "Manager",
    "ManagerError",
    "ManagerOptions",
    "Mapper",
    "ObjectKey",
    "Reconciler",
    "Resource",
    "Result",
    "RunnableFailed",
    "TerminalError",
    "run_manager",
    "thaw",
]
