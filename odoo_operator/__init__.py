"""odoo-operator: a Kubernetes operator for Odoo, in Python."""
