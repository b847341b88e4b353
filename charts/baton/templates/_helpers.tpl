{{/* Chart name, truncated to the 63 characters a label value may hold. */}}
{{- define "baton.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: fullnameOverride, else <release>-<chart> unless the release name
already contains the chart name.
*/}}
{{- define "baton.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "baton.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "baton.labels" -}}
helm.sh/chart: {{ include "baton.chart" . }}
{{ include "baton.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: controller
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "baton.selectorLabels" -}}
app.kubernetes.io/name: {{ include "baton.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{- define "baton.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "baton.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "baton.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* true when the pods run on the node's network (DaemonSet mode). */}}
{{- define "baton.hostNetwork" -}}
{{- if eq (include "baton.mode" .) "DaemonSet" }}true{{ end }}
{{- end }}

{{/* The validated mode. */}}
{{- define "baton.mode" -}}
{{- if not (has .Values.mode (list "Deployment" "DaemonSet")) }}
{{- fail (printf "mode must be Deployment or DaemonSet, not %q" .Values.mode) }}
{{- end }}
{{- .Values.mode }}
{{- end }}

{{/* Ports the process binds: the pod's own in Deployment mode, the node's in DaemonSet mode. */}}
{{- define "baton.ports" -}}
{{- $p := ternary .Values.hostPorts .Values.ports (eq (include "baton.hostNetwork" .) "true") }}
{{- range $k := list "http" "https" "metrics" "health" }}
{{- $v := int (index $p $k) }}
{{- if or (lt $v 1) (gt $v 65535) }}
{{- fail (printf "port %s must be a number between 1 and 65535, got %v" $k (index $p $k)) }}
{{- end }}
{{- end }}
{{- /* One process binds all four (in DaemonSet mode on the node): a clash only shows as a crash loop. */}}
{{- $bound := list (int $p.http) (int $p.https) (int $p.health) }}
{{- if .Values.metrics.enabled }}{{ $bound = append $bound (int $p.metrics) }}{{ end }}
{{- if ne (len $bound) (len (uniq $bound)) }}
{{- fail (printf "the http, https, health and metrics ports must differ, got %v" $bound) }}
{{- end }}
{{- toYaml (dict "http" (int $p.http) "https" (int $p.https) "metrics" (int $p.metrics) "health" (int $p.health)) }}
{{- end }}

{{/* true when a bound port is privileged, so NET_BIND_SERVICE is needed. */}}
{{- define "baton.needsNetBind" -}}
{{- $p := include "baton.ports" . | fromYaml }}
{{- if and (eq (include "baton.hostNetwork" .) "true") (or (lt (int $p.http) 1024) (lt (int $p.https) 1024) (and .Values.metrics.enabled (lt (int $p.metrics) 1024)) (lt (int $p.health) 1024)) }}true{{ end }}
{{- end }}

{{- define "baton.handoffSocket" -}}
{{- printf "%s/%s" (trimSuffix "/" .Values.handoff.mountPath) .Values.handoff.socketName }}
{{- end }}

{{/* Node directory of this release's handoff socket (DaemonSet mode). */}}
{{- define "baton.handoffHostPath" -}}
{{- printf "%s/%s_%s" (trimSuffix "/" .Values.handoff.hostPath) .Release.Namespace (include "baton.fullname" .) }}
{{- end }}

{{/* namespace/name whose address goes to Ingress status, or empty. */}}
{{- define "baton.publishService" -}}
{{- if .Values.publishStatusAddress }}
{{- else if .Values.publishService }}
{{- .Values.publishService }}
{{- else if .Values.service.enabled }}
{{- printf "%s/%s" .Release.Namespace (include "baton.fullname" .) }}
{{- end }}
{{- end }}

{{- define "baton.leaderElectionID" -}}
{{- default (printf "%s-leader" (include "baton.fullname" .)) .Values.leaderElection.id }}
{{- end }}

{{/*
Seconds the kubelet allows for preStop and the drain after SIGTERM, plus a
margin, so it never kills a pod that is still finishing requests.
*/}}
{{- define "baton.terminationGracePeriod" -}}
{{- add (int .Values.drainGracePeriod) (int .Values.preStopSleepSeconds) 5 (include "baton.successorWait" .) }}
{{- end }}

{{/* Seconds a SIGTERMed pod waits for its successor (DaemonSet mode). */}}
{{- define "baton.successorWait" -}}
{{- if and (eq (include "baton.hostNetwork" .) "true") .Values.handoff.enabled }}
{{- int .Values.handoff.successorWaitSeconds }}
{{- else }}
{{- 0 }}
{{- end }}
{{- end }}

{{/*
Per-pod probe socket (DaemonSet mode): pods sharing the node's ports cannot
tell over TCP which of them answered a probe, so each answers on a socket
in its own emptyDir and the probes exec `baton probe`.
*/}}
{{- define "baton.probeSocket" -}}
{{- if eq (include "baton.hostNetwork" .) "true" }}/var/run/baton-probe/probe.sock{{ end }}
{{- end }}

{{/* Validates a namespace/name value. */}}
{{- define "baton.checkNamespacedName" -}}
{{- $v := index . 1 }}
{{- if $v }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$" $v) }}
{{- fail (printf "%s must be namespace/name, got %q" (index . 0) $v) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The controller's command-line arguments, as a YAML list (toYaml quotes
whatever a value holds). extraArgs come last: for a repeated flag the last
one wins.
*/}}
{{- define "baton.args" -}}
{{- if and .Values.publishStatusAddress .Values.publishService }}
{{- fail "publishStatusAddress and publishService are exclusive: set one" }}
{{- end }}
{{- $p := include "baton.ports" . | fromYaml }}
{{- include "baton.checkNamespacedName" (list "publishService" .Values.publishService) }}
{{- include "baton.checkNamespacedName" (list "defaultTLSSecret" .Values.defaultTLSSecret) }}
{{- $args := list
  (printf "--http-bind-address=:%v" $p.http)
  (printf "--https-bind-address=:%v" $p.https)
  (printf "--metrics-bind-address=%s" (ternary (printf ":%v" $p.metrics) "0" .Values.metrics.enabled))
  (printf "--health-probe-bind-address=:%v" $p.health)
  (printf "--ingress-class=%s" (required "ingressClass.name is required" .Values.ingressClass.name))
  (printf "--controller-name=%s" (required "ingressClass.controllerName is required" .Values.ingressClass.controllerName)) }}
{{- with .Values.watchNamespace }}
{{- $args = append $args (printf "--watch-namespace=%s" .) }}
{{- end }}
{{- if ne .Values.gatewayAPI.controllerName "baton.dev/gateway-controller" }}
{{- $args = append $args (printf "--gateway-controller-name=%s" (required "gatewayAPI.controllerName is required" .Values.gatewayAPI.controllerName)) }}
{{- end }}
{{- with .Values.gatewayAPI.addressPool }}
{{- $args = append $args (printf "--gateway-address-pool=%s" .) }}
{{- end }}
{{- with .Values.publishStatusAddress }}
{{- $args = append $args (printf "--publish-status-address=%s" .) }}
{{- end }}
{{- with include "baton.publishService" . }}
{{- $args = append $args (printf "--publish-service=%s" .) }}
{{- end }}
{{- with .Values.defaultTLSSecret }}
{{- $args = append $args (printf "--default-tls-secret=%s" .) }}
{{- end }}
{{- if .Values.leaderElection.enabled }}
{{- $args = concat $args (list "--leader-elect"
  (printf "--leader-election-namespace=%s" .Release.Namespace)
  (printf "--leader-election-id=%s" (include "baton.leaderElectionID" .))) }}
{{- end }}
{{- if .Values.handoff.enabled }}
{{- $args = concat $args (list (printf "--handoff-socket=%s" (include "baton.handoffSocket" .)) "--stay-after-handoff") }}
{{- end }}
{{- if gt (int (include "baton.successorWait" .)) 0 }}
{{- $args = append $args (printf "--handoff-wait=%ss" (include "baton.successorWait" .)) }}
{{- end }}
{{- with include "baton.probeSocket" . }}
{{- $args = append $args (printf "--probe-socket=%s" .) }}
{{- end }}
{{- $args = append $args "--memory-limit=$(BATON_MEMORY_LIMIT)" }}
{{- with .Values.trustedProxies }}
{{- $args = append $args (printf "--trusted-proxies=%s" (join "," .)) }}
{{- end }}
{{- if .Values.proxyProtocol }}
{{- $args = append $args "--proxy-protocol" }}
{{- end }}
{{- $args = concat $args (list
  (printf "--shutdown-grace-period=%ds" (int .Values.drainGracePeriod))
  (printf "--read-header-timeout=%s" .Values.readHeaderTimeout)
  (printf "--idle-timeout=%s" .Values.idleTimeout)
  (printf "--max-connections=%s" (include "baton.maxConnections" .))) }}
{{- range .Values.extraArgs }}
{{- $args = append $args (toString .) }}
{{- end }}
{{- toYaml $args }}
{{- end }}

{{/*
Rules on namespaced resources: read what is translated into routes, write
only the status subresources Baton owns, and record Events.
*/}}
{{- define "baton.namespacedRules" -}}
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses/status"]
  verbs: ["update", "patch"]
- apiGroups: [""]
  resources: ["services", "secrets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["baton.dev"]
  resources: ["upstreams"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["baton.dev"]
  resources: ["upstreams/status"]
  verbs: ["update", "patch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gateways", "httproutes", "grpcroutes", "referencegrants", "backendtlspolicies"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gateways/status", "httproutes/status", "grpcroutes/status", "backendtlspolicies/status"]
  verbs: ["update", "patch"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/* The metrics Service's name, kept within the 63 characters a Service name may have. */}}
{{- define "baton.metricsServiceName" -}}
{{- printf "%s-metrics" (include "baton.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/*
--max-connections: maxConnections, else what resources.limits.memory holds
after memoryReserveMi, with a quarter kept as headroom, at
memoryPerConnectionKiB each; 20000 (the flag's default) without a limit.
*/}}
{{- define "baton.maxConnections" -}}
{{- if not (kindIs "invalid" .Values.maxConnections) -}}
{{- int64 .Values.maxConnections -}}
{{- else -}}
{{- $limit := include "baton.memoryKiB" (dig "limits" "memory" "" .Values.resources) | int64 -}}
{{- if gt $limit 0 -}}
{{- $avail := sub $limit (mul (int64 .Values.memoryReserveMi) 1024) -}}
{{- max 1 (div (mul $avail 3) (mul 4 (int64 .Values.memoryPerConnectionKiB))) -}}
{{- else -}}
20000
{{- end -}}
{{- end -}}
{{- end }}

{{/*
A memory quantity (512Mi, 1G, 536870912) in KiB; 0 if it is none of those.
*/}}
{{- define "baton.memoryKiB" -}}
{{- $q := toString . -}}
{{- $digits := regexFind "^[0-9]+" $q -}}
{{- $n := $digits | int64 -}}
{{- $unit := trimPrefix $digits $q -}}
{{- $perUnit := dict "" 1 "k" 1000 "Ki" 1024 "M" 1000000 "Mi" 1048576 "G" 1000000000 "Gi" 1073741824 -}}
{{- if hasKey $perUnit $unit -}}
{{- div (mul $n (get $perUnit $unit)) 1024 -}}
{{- else -}}
0
{{- end -}}
{{- end }}
