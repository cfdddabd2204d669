{{/* Names and labels shared by every template. */}}

{{- define "odoo-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "odoo-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "odoo-operator.labels" -}}
{{ include "odoo-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "odoo-operator.image" -}}
{{- .Values.operator.image | default (printf "ghcr.io/bemade/odoo-operator:%s" .Chart.AppVersion) -}}
{{- end -}}

{{- define "odoo-operator.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "odoo-operator.fullname" .) -}}
{{- end -}}

{{- define "odoo-operator.clustersSecretName" -}}
{{- .Values.postgresClustersSecretRef.name | default "postgres-clusters" -}}
{{- end -}}

{{- define "odoo-operator.webhookService" -}}
{{- printf "%s-webhook" (include "odoo-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "odoo-operator.webhookCertSecret" -}}
{{- if .Values.webhook.certManager.enabled -}}
{{- printf "%s-webhook-cert" (include "odoo-operator.fullname" .) -}}
{{- else -}}
{{- required "webhook.certSecretName is required when webhook.certManager.enabled is false" .Values.webhook.certSecretName -}}
{{- end -}}
{{- end -}}
