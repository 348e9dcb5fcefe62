{{/*
Names, labels and the services' call graph, shared by every template.
*/}}

{{- define "floe.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* A component's object name: <release>-floe-<component>. */}}
{{- define "floe.componentName" -}}
{{- printf "%s-%s" (include "floe.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "floe.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "floe.labels" -}}
{{ include "floe.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: floe
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/*
Which floe services each service calls (apps/cli/src/services.ts, the one registration; a test keeps the
two equal). Peers are dialled through their headless Service, balanced round-robin over the replicas;
the NetworkPolicies admit exactly these callers.
*/}}
{{- define "floe.peers" -}}
data-profiler: [trainer]
trainer: [data-profiler]
hpo-surrogate: [trainer]
explainer: [trainer]
evaluator: [trainer]
{{- end -}}

{{/* FLOE_<SERVICE>_ADDRESS for a service name. */}}
{{- define "floe.peerVariable" -}}
{{- printf "FLOE_%s_ADDRESS" (. | upper | replace "-" "_") -}}
{{- end -}}

{{/* The name of the Secret that holds the TLS certificate. */}}
{{- define "floe.tlsSecret" -}}
{{- if .Values.tls.existingSecret -}}
{{- .Values.tls.existingSecret -}}
{{- else -}}
{{- printf "%s-tls" (include "floe.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "floe.image" -}}
{{- $repository := ternary .root.Values.image.gpuRepository .root.Values.image.repository (gt (int .component.gpu) 0) -}}
{{- printf "%s:%s" $repository (.root.Values.image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}
