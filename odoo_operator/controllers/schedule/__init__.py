"""The OdooBackupSchedule controller: backups on a cron schedule, retention, verification.

- `ticks`: when a backup is due (catch-up, suspend, concurrencyPolicy), a pure function;
- `backups`: the OdooBackupJobs a schedule owns: their names, bodies and outcomes;
- `retention`: pruning the schedule's prefix on S3 after a successful backup;
- `verification`: the verify batch Job, its verdict, the instance's `BackupVerified`
  condition and the metric;
- `status`: the schedule's status as a function of what the reconcile saw;
- `reconciler`, `context`, `setup`: the controller and its registration.
"""
