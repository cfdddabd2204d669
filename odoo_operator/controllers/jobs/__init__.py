"""The job resources (OdooInitJob, OdooUpgradeJob, OdooBackupJob, OdooRestoreJob) and the
batch Jobs that run them (SPEC §2, §3, §6; docs/jobs.md).

- `init`, `upgrade`, `backup`, `restore`: one module per kind, the batch Job spec as a
  pure function, and when a resource of that kind cannot apply;
- `kinds`: the four as data (`JobKind`); `batch`: what every batch Job shares;
- `naming`: deterministic batch Job names (≤ 63 characters);
- `reconciler`: the job controller (the same code for each kind; its docstring says
  who decides what, between it and the OdooInstance controller);
- `credentials`: Secrets copied into the instance's namespace for a Job;
- `status`: the job resource's status and its webhook; `history`: pruning;
- `setup`: registration, after the OdooInstance controller.

Nothing is imported here, so that `controllers.instance` can use `jobs.status`.
"""
