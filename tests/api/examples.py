"""One object of each kind with every field set, spec and status, as a user and the operator
would write them (used for round trips on the real server and offline)."""

from __future__ import annotations

from typing import Any

from odoo_operator.api.base import API_VERSION

WHEN = "2025-03-01T10:20:30Z"
CONDITIONS = [
    {
        "type": "Ready",
        "status": "True",
        "reason": "Running",
        "message": "all pods ready",
        "lastTransitionTime": WHEN,
        "observedGeneration": 1,
    },
    {
        "type": "Progressing",
        "status": "False",
        "reason": "Running",
        "message": "steady",
        "lastTransitionTime": WHEN,
        "observedGeneration": 1,
    },
]
WEBHOOK = {
    "url": "https://hooks.example.com/odoo",
    "token": "t0ken",
    "secretTokenSecretRef": {"name": "hook", "key": "token"},
}
S3 = {
    "bucket": "backups",
    "objectKey": "shop/2025-03-01.zip",
    "endpoint": "https://s3.example.com",
    "region": "ca-central-1",
    "insecure": True,
    "s3CredentialsSecretRef": {"name": "s3-credentials", "namespace": "odoo-operator"},
}
JOB_STATUS = {
    "phase": "Completed",
    "jobName": "shop-backup-x1",
    "startTime": WHEN,
    "completionTime": "2025-03-01T10:25:00Z",
    "message": "done",
    "conditions": CONDITIONS[:1],
}
RESOURCES = {
    "limits": {"cpu": 2, "memory": "2Gi"},
    "requests": {"cpu": "500m", "memory": "1Gi"},
    "claims": [{"name": "gpu"}],
}

INSTANCE_SPEC: dict[str, Any] = {
    "image": "odoo:18.0",
    "replicas": 2,
    "adminPassword": "changeme",
    "imagePullSecret": "registry",
    "ingress": {
        "hosts": ["shop.example.com", "www.shop.example.com"],
        "issuer": "le",
        "class": "nginx",
    },
    "database": {"cluster": "main", "name": "odoo_shop"},
    "filestore": {"storageSize": "10Gi", "storageClass": "nfs"},
    "resources": RESOURCES,
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["odoo"]}]}
                ]
            }
        },
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 50,
                    "podAffinityTerm": {
                        "labelSelector": {"matchLabels": {"app": "shop"}},
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }
            ]
        },
    },
    "tolerations": [
        {"key": "dedicated", "operator": "Equal", "value": "odoo", "effect": "NoSchedule"},
        {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 30,
        },
    ],
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "0%"}},
    "probes": {
        "startupPath": "/web/health",
        "livenessPath": "/web/health",
        "readinessPath": "/web/login",
    },
    "configOptions": {"workers": "4", "limit_time_real": "600"},
    "cron": {"replicas": 1, "resources": {"limits": {"memory": "1Gi"}}},
    "init": {"enabled": True, "modules": ["base", "sale"], "demo": False},
    "webhook": WEBHOOK,
    "environment": "Production",
    "extraEnv": [
        {"name": "TZ", "value": "America/Montreal"},
        {
            "name": "SMTP_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "smtp", "key": "password"}},
        },
        {
            "name": "CPU",
            "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}},
        },
    ],
    "extraEnvFrom": [
        {"configMapRef": {"name": "odoo-env"}},
        {"prefix": "S_", "secretRef": {"name": "s"}},
    ],
}
INSTANCE_STATUS = {
    "phase": "Running",
    "ready": True,
    "readyReplicas": 2,
    "targetReplicas": 2,
    "dbInitialized": True,
    "url": "https://shop.example.com",
    "selector": "app=shop",
    "message": "2/2 web pods ready",
    "observedGeneration": 1,
    "lastBackup": WHEN,
    "conditions": CONDITIONS,
}

REF = {"odooInstanceRef": {"name": "shop", "namespace": "odoo"}, "webhook": WEBHOOK}

SCHEDULE_SPEC: dict[str, Any] = {
    "odooInstanceRef": REF["odooInstanceRef"],
    "schedule": "30 2 * * *",
    "timeZone": "America/Montreal",
    "destination": {
        "bucket": "backups",
        "prefix": "nightly",
        "endpoint": "https://s3.example.com",
        "region": "ca-central-1",
        "insecure": True,
        "s3CredentialsSecretRef": {"name": "s3-credentials", "namespace": "odoo-operator"},
    },
    "format": "zip",
    "withFilestore": False,
    "retention": {"keepLast": 2, "keepDaily": 7, "keepWeekly": 4, "keepMonthly": 3},
    "verify": True,
    "suspend": True,
    "concurrencyPolicy": "Replace",
}
SCHEDULE_STATUS: dict[str, Any] = {
    "lastScheduleTime": WHEN,
    "lastSkippedTime": "2025-03-01T10:21:30Z",
    "lastSuccessfulBackup": {"key": "nightly/ns/shop/20250301T102030Z.zip", "time": WHEN},
    "lastVerified": {
        "key": "nightly/ns/shop/20250301T102030Z.zip",
        "time": "2025-03-01T10:40:00Z",
        "result": "Failed",
        "message": "module versions differ: sale",
    },
    "backups": 11,
    "prunedAfter": "nightly/ns/shop/20250301T102030Z.zip",
    "lastPassedVerification": "2025-02-28T10:40:00Z",
    "conditions": CONDITIONS[:1],
}

# plural -> (kind, spec, status)
EXAMPLES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "odooinstances": ("OdooInstance", INSTANCE_SPEC, INSTANCE_STATUS),
    "odooinitjobs": ("OdooInitJob", {**REF, "modules": ["base", "web"], "demo": True}, JOB_STATUS),
    "odooupgradejobs": (
        "OdooUpgradeJob",
        {
            **REF,
            "modules": ["sale"],
            "modulesInstall": ["stock"],
            "scheduledTime": WHEN,
            "backupFirst": True,
            "backupDestination": SCHEDULE_SPEC["destination"],
        },
        JOB_STATUS,
    ),
    "odoobackupjobs": (
        "OdooBackupJob",
        {**REF, "destination": S3, "format": "dump", "withFilestore": False},
        JOB_STATUS,
    ),
    "odoorestorejobs": (
        "OdooRestoreJob",
        {
            **REF,
            "source": {
                "type": "odoo",
                "s3": S3,
                "odoo": {
                    "url": "https://old.example.com",
                    "sourceDatabase": "prod",
                    "masterPassword": "m4ster",
                },
            },
            "format": "sql",
            "neutralize": False,
        },
        JOB_STATUS,
    ),
    "odoobackupschedules": ("OdooBackupSchedule", SCHEDULE_SPEC, SCHEDULE_STATUS),
}


def example(plural: str, name: str = "shop") -> dict[str, Any]:
    """The full object of `plural`, without status (status goes through its subresource)."""
    kind, spec, _ = EXAMPLES[plural]
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}
