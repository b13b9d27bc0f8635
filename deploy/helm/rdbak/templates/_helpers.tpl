{{/* Labels of every object. */}}
{{- define "rdbak.labels" -}}
app.kubernetes.io/name: rdbak
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{/* The target namespaces, each with the Secrets its targets name
     (passwordSecret, tls.caSecret): a dict of namespace to a list of
     Secret names, as JSON. */}}
{{- define "rdbak.targetNamespaces" -}}
{{- $out := dict }}
{{- range .Values.targets }}
{{- $k := .kubernetes | default dict }}
{{- $ns := $k.namespace | default $.Release.Namespace }}
{{- $secrets := get $out $ns | default (list) }}
{{- if $k.passwordSecret }}
{{- $secrets = append $secrets $k.passwordSecret.name | uniq }}
{{- end }}
{{- if and $k.tls $k.tls.caSecret }}
{{- $secrets = append $secrets $k.tls.caSecret.name | uniq }}
{{- end }}
{{- $_ := set $out $ns $secrets }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* The namespaces of the targets whose backups are encrypted, each with
     the Secrets that encryption.identitySecret names there (the target's
     own, else defaults.encryption's), for the restore Role: a dict of
     namespace to a list of Secret names, as JSON. */}}
{{- define "rdbak.identitySecrets" -}}
{{- $out := dict }}
{{- $default := (.Values.defaults | default dict).encryption | default dict }}
{{- range .Values.targets }}
{{- $k := .kubernetes | default dict }}
{{- $ns := $k.namespace | default $.Release.Namespace }}
{{- $enc := .encryption | default $default }}
{{- if $enc.identitySecret }}
{{- $secrets := get $out $ns | default (list) }}
{{- $secrets = append $secrets $enc.identitySecret.name | uniq }}
{{- $_ := set $out $ns $secrets }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* The pod spec both modes share; .args is rdbak's command line. */}}
{{- define "rdbak.podSpec" -}}
serviceAccountName: {{ .root.Values.serviceAccount.name }}
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  seccompProfile: {type: RuntimeDefault}
containers:
- name: rdbak
  image: {{ printf "%s:%s" .root.Values.image.repository .root.Values.image.tag | quote }}
  imagePullPolicy: {{ .root.Values.image.pullPolicy }}
  args: {{ toJson .args }}
  {{- if or .root.Values.storageCredentials .root.Values.existingStorageSecret }}
  envFrom:
  - secretRef: {name: {{ .root.Values.existingStorageSecret | default "rdbak-storage" }}}
  {{- end }}
  {{- with .extra }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  securityContext:
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities: {drop: [ALL]}
  resources: {{- toYaml .root.Values.resources | nindent 4 }}
  volumeMounts:
  - {name: config, mountPath: /etc/rdbak, readOnly: true}
  - {name: tmp, mountPath: /tmp}
volumes:
- name: config
  configMap: {name: rdbak-config}
- name: tmp
  emptyDir: {sizeLimit: 64Mi}
{{- end }}
