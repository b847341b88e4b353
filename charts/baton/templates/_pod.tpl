{{/*
The pod template shared by the Deployment and the DaemonSet. In DaemonSet
mode the pod runs on the node's network: it declares no container ports,
because a declared port on a hostNetwork pod is a hostPort, and the
scheduler would then refuse to place the surge pod next to the old one on
the node; the two must coexist for the listener handoff.
*/}}
{{- define "baton.podTemplate" -}}
{{- $hostNetwork := eq (include "baton.hostNetwork" .) "true" }}
{{- $p := include "baton.ports" . | fromYaml }}
metadata:
  labels:
    {{- include "baton.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- if and .Values.metrics.enabled .Values.metrics.scrapeAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $p.metrics | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "baton.serviceAccountName" . | quote }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . | quote }}
  {{- end }}
  {{- if $hostNetwork }}
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  {{- end }}
  terminationGracePeriodSeconds: {{ include "baton.terminationGracePeriod" . }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- if and $hostNetwork .Values.handoff.enabled .Values.handoff.initContainer.enabled }}
  initContainers:
    # The kubelet creates the hostPath directory owned by root; hand it to
    # the controller's user, private (the handoff only serves peers running
    # as the same user).
    - name: handoff-dir
      image: "{{ .Values.handoff.initContainer.image.repository }}:{{ .Values.handoff.initContainer.image.tag }}"
      imagePullPolicy: {{ .Values.handoff.initContainer.image.pullPolicy }}
      command:
        - /bin/sh
        - -c
        # Idempotent: on later rollouts the directory is already the user's,
        # and root without CAP_FOWNER may not chmod it any more.
        - |
          [ "$(stat -c %u:%g "$DIR")" = "$OWNER" ] || { chmod 0700 "$DIR" && chown "$OWNER" "$DIR"; }
      env:
        - name: DIR
          value: {{ .Values.handoff.mountPath | quote }}
        - name: OWNER
          value: "{{ .Values.podSecurityContext.runAsUser | default 65532 }}:{{ .Values.podSecurityContext.runAsGroup | default 65532 }}"
      securityContext:
        runAsNonRoot: false
        runAsUser: 0
        runAsGroup: 0
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop:
            - ALL
          add:
            - CHOWN
      resources:
        {{- toYaml .Values.handoff.initContainer.resources | nindent 8 }}
      volumeMounts:
        - name: handoff
          mountPath: {{ .Values.handoff.mountPath }}
  {{- end }}
  containers:
    - name: controller
      image: {{ include "baton.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        {{- include "baton.args" . | trim | nindent 8 }}
      env:
        # --memory-limit: the limit the kubelet enforces, whatever set it
        # (these values or a LimitRange); without one, the node's
        # allocatable memory.
        - name: BATON_MEMORY_LIMIT
          valueFrom:
            resourceFieldRef:
              containerName: controller
              resource: limits.memory
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if not $hostNetwork }}
      ports:
        - name: http
          containerPort: {{ $p.http }}
          protocol: TCP
        - name: https
          containerPort: {{ $p.https }}
          protocol: TCP
        {{- if .Values.metrics.enabled }}
        - name: metrics
          containerPort: {{ $p.metrics }}
          protocol: TCP
        {{- end }}
        - name: health
          containerPort: {{ $p.health }}
          protocol: TCP
      {{- end }}
      {{- with include "baton.probeSocket" . }}
      readinessProbe:
        exec:
          command: ["/baton", "probe", "--socket", {{ . | quote }}, "--path", "/readyz"]
        {{- toYaml $.Values.readinessProbe | nindent 8 }}
      livenessProbe:
        exec:
          command: ["/baton", "probe", "--socket", {{ . | quote }}, "--path", "/healthz"]
        {{- toYaml $.Values.livenessProbe | nindent 8 }}
      {{- else }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: {{ $p.health }}
        {{- toYaml .Values.readinessProbe | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: {{ $p.health }}
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      {{- end }}
      {{- if gt (int .Values.preStopSleepSeconds) 0 }}
      lifecycle:
        preStop:
          sleep:
            seconds: {{ int .Values.preStopSleepSeconds }}
      {{- end }}
      securityContext:
        {{- include "baton.containerSecurityContext" . | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with include "baton.probeSocket" . }}
        - name: probe
          mountPath: {{ dir . }}
        {{- end }}
        {{- if .Values.handoff.enabled }}
        - name: handoff
          mountPath: {{ .Values.handoff.mountPath }}
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- if include "baton.probeSocket" . }}
    - name: probe
      emptyDir:
        medium: Memory
        sizeLimit: 1Mi
    {{- end }}
    {{- if .Values.handoff.enabled }}
    - name: handoff
      {{- if $hostNetwork }}
      hostPath:
        path: {{ include "baton.handoffHostPath" . }}
        type: DirectoryOrCreate
      {{- else }}
      emptyDir:
        medium: Memory
        sizeLimit: 1Mi
      {{- end }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.affinity }}
  affinity:
    {{- toYaml .Values.affinity | nindent 4 }}
  {{- else if not $hostNetwork }}
  affinity:
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "baton.selectorLabels" . | nindent 16 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range . }}
    {{- $c := deepCopy . }}
    {{- if not (hasKey $c "labelSelector") }}
    {{- $_ := set $c "labelSelector" (dict "matchLabels" (include "baton.selectorLabels" $ | fromYaml)) }}
    {{- end }}
    - {{ toYaml $c | nindent 6 | trim }}
    {{- end }}
  {{- end }}
{{- end }}

{{/*
Container security context, plus NET_BIND_SERVICE in every mode: the
image's /baton carries the file capability cap_net_bind_service=ep (for the
node's ports 80/443 in DaemonSet mode), and the kernel refuses to execute a
file whose effective capabilities the bounding set cannot grant, so with
drop ALL alone the container would fail with "operation not permitted".
*/}}
{{- define "baton.containerSecurityContext" -}}
{{- $sc := deepCopy .Values.containerSecurityContext }}
{{- $caps := get $sc "capabilities" | default dict }}
{{- $add := get $caps "add" | default list }}
{{- $_ := set $caps "add" (append $add "NET_BIND_SERVICE" | uniq) }}
{{- $_ := set $sc "capabilities" $caps }}
{{- toYaml $sc }}
{{- end }}
