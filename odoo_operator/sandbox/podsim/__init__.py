"""The pod simulator: the node agent (kubelet) a real cluster would have, on loopback.

It registers one Node, binds unscheduled pods to it and runs them, so the real
Deployment, ReplicaSet and Job controllers of kube-controller-manager do the rest:

- containers of the operator image run for real as local processes (`containers`),
  with their environment (`env`) and volumes as host directories (`volumes`, `claims`);
- every other container is the simulated Odoo (`odoo`, `odoo_schema`), which creates,
  upgrades and neutralizes real databases and says in its log that it is simulated;
- pod status is reported as a kubelet reports it (`status`, `pods`), and the kubelet
  log endpoint serves `kubectl logs` through the API server (`logs`, `logserver`).

Modules: `launcher` (the process, seen from the sandbox and the tests), `agent` (the
process itself), `node`, `pods`, `status`, `containers`, `env`, `volumes`, `claims`,
`logs`, `logserver`, `odoo`, `odoo_schema`. See docs/sandbox.md for what is simulated.

This file imports nothing: every simulated Odoo container is a Python process that
imports `podsim.odoo`, and must not pay for the Kubernetes client or the launcher's
dependencies (memory, start-up time). Import `podsim.launcher.PodSimulator`.
"""
