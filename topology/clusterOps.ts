/**
 * The cluster-wide phases' model (1.5 flag parity, 4 cut-over, 4.5 etcd maintenance, 5 kured
 * gate, 6 verification, 7 upgrade chain): their config keys, validated once, and the pure
 * decisions the components and scripts share (declared flags, cut-over order, quorum figures).
 * No Pulumi resources here.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import type { ClusterConfig, MasterSpec, Reader, WorkerSpec } from "./config";
import { PhaseId, phaseIndex } from "./phases";
import { faultTolerance, quorumOf } from "./quorum";

type Json = Record<string, unknown>;

/** Where the project's files are; config paths (the audit policy) are relative to it. */
export const PROJECT_ROOT = path.resolve(__dirname, "..");

/** The label kubeadm puts on control-plane nodes, and the taint that keeps workloads off them. */
export const CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane";

// ---------------------------------------------------------------------------------------------
// Config shapes

export interface OidcFlags {
    readonly issuerUrl: string;
    readonly clientId: string;
    readonly usernameClaim?: string;
    readonly groupsClaim?: string;
    readonly usernamePrefix?: string;
    readonly groupsPrefix?: string;
}

export interface AuditFlags {
    /** The policy's text, read from `policyFile` (relative to the project) at validation. */
    readonly policy: string;
    readonly policyFile: string;
    /** Where the policy lives on every master; mounted read-only into the apiserver. */
    readonly policyPath: string;
    /** Directory of the audit log on every master; mounted read-write. */
    readonly logDir: string;
    /**
     * extraVolumes names. When kubeadm-config already mounts a policy and a log directory, give
     * their names here: the patch then replaces them in place instead of adding a second mount.
     */
    readonly policyVolumeName: string;
    readonly logVolumeName: string;
    readonly maxAgeDays: number;
    readonly maxBackups: number;
    readonly maxSizeMiB: number;
}

export interface EtcdTuning {
    readonly autoCompactionRetention?: string;
    readonly snapshotCount?: number;
}

/**
 * How an apiserver leaves the pool when its static pod is swapped (kubeadm upgrade, phase 1.5,
 * a certificate change): on SIGTERM it fails /readyz at once but keeps serving for
 * `delaySeconds`, so the load balancer ejects it before its listener closes; then it drains,
 * and with `sendRetryAfter` answers what still reaches it with 429 and Retry-After (clients
 * retry elsewhere) instead of a closed connection. bench/apiserver.bench.ts measures both.
 */
export interface ApiserverShutdownFlags {
    readonly delaySeconds: number;
    readonly sendRetryAfter: boolean;
}

export interface ControlPlaneFlagsConfig {
    readonly oidc?: OidcFlags;
    readonly audit?: AuditFlags;
    readonly etcd?: EtcdTuning;
    readonly apiserverShutdown?: ApiserverShutdownFlags;
    /** Seconds each master may take to come back healthy after its manifests are regenerated. */
    readonly healthTimeoutSeconds: number;
}

export interface ExternalConsumer {
    readonly name: string;
    /** Where it lives: a file path, a repo path with line, a CI file. */
    readonly location: string;
    readonly note?: string;
}

export interface CutoverConfig {
    readonly nodeReadyTimeoutSeconds: number;
    /** Pause after each node is Ready again before the next one starts (the seed's sleep 15). */
    readonly settleSeconds: number;
    readonly externalConsumers: readonly ExternalConsumer[];
}

export type BackupVolume =
    | { readonly kind: "hostPath"; readonly path: string }
    | { readonly kind: "nfs"; readonly server: string; readonly path: string };

export interface EtcdMaintenanceConfig {
    readonly namespace: string;
    /** Holds etcdctl/etcdutl; distroless, so it runs them directly, never a shell. */
    readonly etcdImage: string;
    /** Runs the backup store/retention script (bash, coreutils). */
    readonly shellImage: string;
    /** ahrtr/etcd-defrag, by an etcd maintainer: health check first, members one by one, leader last. */
    readonly defragImage: string;
    readonly timeZone?: string;
    readonly backup: {
        readonly schedule: string;
        readonly retainCount: number;
        readonly volume: BackupVolume;
    };
    readonly defrag: {
        readonly schedule: string;
        readonly rule: string;
        readonly waitBetweenSeconds: number;
    };
}

export interface KuredGateConfig {
    readonly namespace: string;
    /** The ServiceAccount of the sentinel-gate DaemonSet (kured stack), granted what the gate reads. */
    readonly serviceAccount: string;
    readonly checkIntervalSeconds: number;
}

export interface UpgradeChainConfig {
    readonly namespace: string;
    readonly serviceAccount: string;
    readonly drainTimeoutSeconds: number;
    readonly readyTimeoutSeconds: number;
}

export interface KubernetesAccessConfig {
    /** Context of the secret kubeconfig to use; its current context when absent. */
    readonly context?: string;
}

export interface ClusterOpsConfig {
    readonly controlPlaneFlags: ControlPlaneFlagsConfig;
    readonly cutover: CutoverConfig;
    readonly etcdMaintenance: EtcdMaintenanceConfig;
    readonly kured: KuredGateConfig;
    readonly upgrade: UpgradeChainConfig;
    readonly kubernetesAccess: KubernetesAccessConfig;
}

/** The first phase that talks to the Kubernetes API through the provider (CronJobs). */
export const FIRST_KUBERNETES_API_PHASE: PhaseId = "4.5";

// ---------------------------------------------------------------------------------------------
// Validation

/** Whether a stack at `target` registers `phase` (and so needs its config). */
function reached(target: PhaseId | undefined, phase: PhaseId): boolean {
    return target !== undefined && phaseIndex(target) >= phaseIndex(phase);
}

const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CRON = /^(\S+\s+){4}\S+$/;
const DURATION = /^(\d+|(\d+h)?(\d+m)?(\d+s)?)$/;
const IMAGE = /^[a-z0-9][a-z0-9._\-/:@]*$/;
const ABSOLUTE_PATH = /^\/[^\s'"\\]*$/;

/** A zone name from the tz database (what a CronJob's spec.timeZone must be); "Local" is refused too. */
function isIanaTimeZone(zone: string): boolean {
    if (zone.toLowerCase() === "local") return false;
    try {
        new Intl.DateTimeFormat("en-US", { timeZone: zone });
        return true;
    } catch {
        return false;
    }
}

function optionalObject(r: Reader, value: unknown, key: string): Json | undefined {
    return value === undefined ? undefined : r.object(value, key);
}

function k8sName(r: Reader, obj: Json, field: string, key: string, fallback: string): string {
    const value = r.string(obj, field, key, fallback);
    if (value && (!K8S_NAME.test(value) || value.length > 63)) r.fail(key, value, "must be a Kubernetes name (lowercase letters, digits, hyphens; at most 63)");
    return value;
}

function absolutePath(r: Reader, obj: Json, field: string, key: string, fallback: string): string {
    const value = r.string(obj, field, key, fallback);
    if (value && !ABSOLUTE_PATH.test(value)) r.fail(key, value, "must be an absolute path without spaces or quotes");
    return value;
}

function image(r: Reader, obj: Json, field: string, key: string, fallback: string): string {
    const value = r.string(obj, field, key, fallback);
    if (value && (!IMAGE.test(value) || !/[:@]/.test(value.split("/").pop() ?? ""))) {
        r.fail(key, value, "must be a container image reference with a tag or digest (registry/name:tag)");
    }
    return value;
}

function cron(r: Reader, obj: Json, field: string, key: string, fallback: string): string {
    const value = r.string(obj, field, key, fallback);
    if (value && !CRON.test(value)) r.fail(key, value, "must be a five-field cron schedule such as \"0 */6 * * *\"");
    return value;
}

function httpsUrl(r: Reader, obj: Json, field: string, key: string): string {
    const value = r.string(obj, field, key);
    try {
        if (value && new URL(value).protocol !== "https:") throw new Error("not https");
    } catch {
        r.fail(key, value, "must be an https:// URL (the apiserver only accepts an https issuer)");
    }
    return value;
}

function readOidc(r: Reader, value: unknown): OidcFlags | undefined {
    const o = optionalObject(r, value, "controlPlaneFlags.oidc");
    if (!o) return undefined;
    const key = (f: string) => `controlPlaneFlags.oidc.${f}`;
    const optional = (f: keyof OidcFlags): Partial<OidcFlags> => {
        const v = r.optionalString(o, f, key(f));
        return v === undefined ? {} : { [f]: v };
    };
    return {
        issuerUrl: httpsUrl(r, o, "issuerUrl", key("issuerUrl")),
        clientId: r.string(o, "clientId", key("clientId")),
        ...optional("usernameClaim"),
        ...optional("groupsClaim"),
        ...optional("usernamePrefix"),
        ...optional("groupsPrefix"),
    };
}

/** An audit policy must parse as audit.k8s.io/v1 Policy with at least one rule. */
export function checkAuditPolicy(text: string): string | undefined {
    let doc: unknown;
    try {
        doc = parse(text);
    } catch (err) {
        return `is not valid YAML (${(err as Error).message.split("\n")[0]})`;
    }
    const d = (doc ?? {}) as Json;
    if (d.apiVersion !== "audit.k8s.io/v1" || d.kind !== "Policy") return "must hold an audit.k8s.io/v1 Policy (apiVersion and kind)";
    if (!Array.isArray(d.rules) || d.rules.length === 0) return "must list at least one rule";
    const levels = ["None", "Metadata", "Request", "RequestResponse"];
    const bad = (d.rules as Json[]).findIndex((rule) => !levels.includes(String(rule?.level)));
    if (bad >= 0) return `rules[${bad}].level must be one of ${levels.join(", ")}`;
    return undefined;
}

function volumeNames(r: Reader, a: Json): Pick<AuditFlags, "policyVolumeName" | "logVolumeName"> {
    const policyVolumeName = k8sName(r, a, "policyVolumeName", "controlPlaneFlags.audit.policyVolumeName", "audit-policy");
    const logVolumeName = k8sName(r, a, "logVolumeName", "controlPlaneFlags.audit.logVolumeName", "audit-logs");
    if (policyVolumeName && policyVolumeName === logVolumeName) {
        r.fail("controlPlaneFlags.audit.logVolumeName", logVolumeName, "must differ from controlPlaneFlags.audit.policyVolumeName");
    }
    return { policyVolumeName, logVolumeName };
}

function readAudit(r: Reader, value: unknown): AuditFlags | undefined {
    const a = optionalObject(r, value, "controlPlaneFlags.audit");
    if (!a) return undefined;
    const key = (f: string) => `controlPlaneFlags.audit.${f}`;
    const policyFile = r.string(a, "policyFile", key("policyFile"), "scripts/cluster/audit-policy.yaml");
    let policy = "";
    if (policyFile) {
        try {
            policy = readFileSync(path.resolve(PROJECT_ROOT, policyFile), "utf8");
            const problem = checkAuditPolicy(policy);
            if (problem) r.fail(key("policyFile"), policyFile, problem);
        } catch {
            r.fail(key("policyFile"), policyFile, "must name a readable file, relative to the project directory");
        }
    }
    return {
        policy,
        policyFile,
        policyPath: absolutePath(r, a, "policyPath", key("policyPath"), "/etc/kubernetes/audit/policy.yaml"),
        logDir: absolutePath(r, a, "logDir", key("logDir"), "/var/log/kubernetes/audit"),
        ...volumeNames(r, a),
        maxAgeDays: r.integer(a, "maxAgeDays", key("maxAgeDays"), 1, 3650, 7),
        maxBackups: r.integer(a, "maxBackups", key("maxBackups"), 1, 1000, 10),
        maxSizeMiB: r.integer(a, "maxSizeMiB", key("maxSizeMiB"), 1, 100000, 100),
    };
}

function readEtcdTuning(r: Reader, value: unknown): EtcdTuning | undefined {
    const e = optionalObject(r, value, "controlPlaneFlags.etcd");
    if (!e) return undefined;
    const retention = e.autoCompactionRetention === undefined ? undefined : String(e.autoCompactionRetention).trim();
    if (retention !== undefined && (!retention || !DURATION.test(retention))) {
        r.fail("controlPlaneFlags.etcd.autoCompactionRetention", e.autoCompactionRetention, "must be hours (\"8\") or a duration such as \"8h\" or \"30m\"");
    }
    return {
        ...(retention !== undefined ? { autoCompactionRetention: retention } : {}),
        ...(e.snapshotCount !== undefined
            ? { snapshotCount: r.integer(e, "snapshotCount", "controlPlaneFlags.etcd.snapshotCount", 100, 100_000_000) }
            : {}),
    };
}

/**
 * The longest shutdown delay: the kubelet kills a static pod 30 s after SIGTERM (kubeadm's
 * manifests keep the default grace period), and the apiserver still needs time to drain.
 */
export const MAX_SHUTDOWN_DELAY_SECONDS = 20;

function readApiserverShutdown(r: Reader, value: unknown): ApiserverShutdownFlags | undefined {
    const o = optionalObject(r, value, "controlPlaneFlags.apiserverShutdown");
    if (!o) return undefined;
    const key = "controlPlaneFlags.apiserverShutdown.delaySeconds";
    const delaySeconds = r.integer(o, "delaySeconds", key, 1, 3600, 5);
    if (delaySeconds > MAX_SHUTDOWN_DELAY_SECONDS) {
        r.fail(key, delaySeconds, `must be at most ${MAX_SHUTDOWN_DELAY_SECONDS}: the kubelet kills a static pod 30 s after SIGTERM, and the apiserver still has to drain after the delay`);
    }
    return {
        delaySeconds,
        sendRetryAfter: r.boolean(o, "sendRetryAfter", "controlPlaneFlags.apiserverShutdown.sendRetryAfter", true),
    };
}

/**
 * The rule between phase 1's checks and phase 1.5's shutdown delay: an apiserver must still
 * serve until the load balancer has certainly ejected it (its ejection bound plus one check
 * timeout, in whole seconds, plus one second), or new connections meet a closed listener.
 */
export function minShutdownDelaySeconds(ejectionBoundMs: number, checkTimeoutMs: number): number {
    return Math.ceil((ejectionBoundMs + checkTimeoutMs) / 1000) + 1;
}

function readControlPlaneFlags(r: Reader, value: unknown): ControlPlaneFlagsConfig {
    const c = optionalObject(r, value, "controlPlaneFlags") ?? {};
    const oidc = readOidc(r, c.oidc);
    const audit = readAudit(r, c.audit);
    const etcd = readEtcdTuning(r, c.etcd);
    const apiserverShutdown = readApiserverShutdown(r, c.apiserverShutdown);
    return {
        ...(oidc ? { oidc } : {}),
        ...(audit ? { audit } : {}),
        ...(etcd ? { etcd } : {}),
        ...(apiserverShutdown ? { apiserverShutdown } : {}),
        healthTimeoutSeconds: r.integer(c, "healthTimeoutSeconds", "controlPlaneFlags.healthTimeoutSeconds", 30, 3600, 300),
    };
}

function readCutover(r: Reader, value: unknown): CutoverConfig {
    const c = optionalObject(r, value, "cutover") ?? {};
    const consumers = r.array(c.externalConsumers ?? [], "cutover.externalConsumers").map((v, i): ExternalConsumer => {
        const key = `cutover.externalConsumers[${i}]`;
        const o = r.object(v, key);
        const note = r.optionalString(o, "note", `${key}.note`);
        return { name: r.string(o, "name", `${key}.name`), location: r.string(o, "location", `${key}.location`), ...(note ? { note } : {}) };
    });
    return {
        nodeReadyTimeoutSeconds: r.integer(c, "nodeReadyTimeoutSeconds", "cutover.nodeReadyTimeoutSeconds", 30, 3600, 300),
        settleSeconds: r.integer(c, "settleSeconds", "cutover.settleSeconds", 0, 600, 15),
        externalConsumers: consumers,
    };
}

function readBackupVolume(r: Reader, b: Json, needed: boolean): BackupVolume {
    const hasHost = b.hostPath !== undefined;
    const hasNfs = b.nfs !== undefined;
    // No default: where the snapshots go is the operator's call, asked for once the phase comes.
    if (!hasHost && !hasNfs && !needed) return { kind: "hostPath", path: "" };
    if (hasHost === hasNfs) {
        r.fail("etcdMaintenance.backup", { hostPath: b.hostPath, nfs: b.nfs }, "must set exactly one of hostPath (a directory on every master, e.g. an NFS mount) or nfs: { server, path }");
        return { kind: "hostPath", path: "" };
    }
    if (hasHost) return { kind: "hostPath", path: absolutePath(r, b, "hostPath", "etcdMaintenance.backup.hostPath", "") };
    const n = r.object(b.nfs, "etcdMaintenance.backup.nfs");
    return { kind: "nfs", server: r.string(n, "server", "etcdMaintenance.backup.nfs.server"), path: absolutePath(r, n, "path", "etcdMaintenance.backup.nfs.path", "") };
}

function readEtcdMaintenance(r: Reader, value: unknown, targetPhase: PhaseId | undefined): EtcdMaintenanceConfig {
    const e = optionalObject(r, value, "etcdMaintenance") ?? {};
    const key = (f: string) => `etcdMaintenance.${f}`;
    const b = optionalObject(r, e.backup, key("backup")) ?? {};
    const d = optionalObject(r, e.defrag, key("defrag")) ?? {};
    const timeZone = r.optionalString(e, "timeZone", key("timeZone"));
    if (timeZone !== undefined && !isIanaTimeZone(timeZone)) {
        r.fail(key("timeZone"), timeZone, "must be an IANA time zone such as Europe/London (the apiserver refuses a CronJob with any other)");
    }
    return {
        namespace: k8sName(r, e, "namespace", key("namespace"), "kube-system"),
        etcdImage: image(r, e, "etcdImage", key("etcdImage"), "registry.k8s.io/etcd:3.6.4-0"),
        shellImage: image(r, e, "shellImage", key("shellImage"), "docker.io/library/debian:trixie-slim"),
        defragImage: image(r, e, "defragImage", key("defragImage"), "ghcr.io/ahrtr/etcd-defrag:v0.41.0"),
        ...(timeZone ? { timeZone } : {}),
        backup: {
            schedule: cron(r, b, "schedule", key("backup.schedule"), "0 */6 * * *"),
            retainCount: r.integer(b, "retainCount", key("backup.retainCount"), 1, 10000, 28),
            volume: readBackupVolume(r, b, reached(targetPhase, "4.5")),
        },
        defrag: {
            schedule: cron(r, d, "schedule", key("defrag.schedule"), "30 3 * * 0"),
            rule: r.string(d, "rule", key("defrag.rule"), "dbSize > dbQuota*80/100 || dbSize - dbSizeInUse > 200*1024*1024"),
            waitBetweenSeconds: r.integer(d, "waitBetweenSeconds", key("defrag.waitBetweenSeconds"), 0, 3600, 30),
        },
    };
}

function readKured(r: Reader, value: unknown): KuredGateConfig {
    const k = optionalObject(r, value, "kured") ?? {};
    return {
        namespace: k8sName(r, k, "namespace", "kured.namespace", "kured"),
        serviceAccount: k8sName(r, k, "serviceAccount", "kured.serviceAccount", "kured-sentinel-gate"),
        checkIntervalSeconds: r.integer(k, "checkIntervalSeconds", "kured.checkIntervalSeconds", 10, 86400, 300),
    };
}

function readUpgrade(r: Reader, value: unknown): UpgradeChainConfig {
    const u = optionalObject(r, value, "upgrade") ?? {};
    return {
        namespace: k8sName(r, u, "namespace", "upgrade.namespace", "k8s-upgrade"),
        serviceAccount: k8sName(r, u, "serviceAccount", "upgrade.serviceAccount", "k8s-upgrade"),
        drainTimeoutSeconds: r.integer(u, "drainTimeoutSeconds", "upgrade.drainTimeoutSeconds", 30, 7200, 600),
        readyTimeoutSeconds: r.integer(u, "readyTimeoutSeconds", "upgrade.readyTimeoutSeconds", 30, 7200, 600),
    };
}

function readKubernetesAccess(r: Reader, value: unknown, targetPhase: PhaseId | undefined): KubernetesAccessConfig {
    const needed = reached(targetPhase, FIRST_KUBERNETES_API_PHASE);
    const k = value === undefined && !needed ? {} : r.object(value ?? {}, "kubernetesAccess");
    // The CronJobs, gate and chain ConfigMaps go through the Kubernetes API from phase 4.5 on.
    if (needed) r.secretPresent(k, "kubeconfig", "kubernetesAccess.kubeconfig");
    const context = r.optionalString(k, "context", "kubernetesAccess.context");
    return context ? { context } : {};
}

/** Reads every cluster-wide phase's key; `targetPhase` decides which secrets are required. */
export function readClusterOps(r: Reader, raw: Readonly<Record<string, unknown>>, targetPhase: PhaseId | undefined): ClusterOpsConfig {
    return {
        controlPlaneFlags: readControlPlaneFlags(r, raw.controlPlaneFlags),
        cutover: readCutover(r, raw.cutover),
        etcdMaintenance: readEtcdMaintenance(r, raw.etcdMaintenance, targetPhase),
        kured: readKured(r, raw.kured),
        upgrade: readUpgrade(r, raw.upgrade),
        kubernetesAccess: readKubernetesAccess(r, raw.kubernetesAccess, targetPhase),
    };
}

// ---------------------------------------------------------------------------------------------
// Phase 1.5: the declared flags

export interface HostPathMount {
    readonly name: string;
    readonly hostPath: string;
    readonly mountPath: string;
    readonly readOnly: boolean;
    readonly pathType: "File" | "DirectoryOrCreate";
}

/** What phase 1.5 declares, flag name (without --) to value, in ClusterConfiguration terms. */
export interface DeclaredFlags {
    readonly apiServer: Readonly<Record<string, string>>;
    readonly apiServerVolumes: readonly HostPathMount[];
    readonly etcd: Readonly<Record<string, string>>;
}

export function declaredFlags(flags: ControlPlaneFlagsConfig): DeclaredFlags {
    const apiServer: Record<string, string> = {};
    const volumes: HostPathMount[] = [];
    const { oidc, audit, etcd, apiserverShutdown } = flags;
    if (oidc) {
        apiServer["oidc-issuer-url"] = oidc.issuerUrl;
        apiServer["oidc-client-id"] = oidc.clientId;
        if (oidc.usernameClaim) apiServer["oidc-username-claim"] = oidc.usernameClaim;
        if (oidc.groupsClaim) apiServer["oidc-groups-claim"] = oidc.groupsClaim;
        if (oidc.usernamePrefix) apiServer["oidc-username-prefix"] = oidc.usernamePrefix;
        if (oidc.groupsPrefix) apiServer["oidc-groups-prefix"] = oidc.groupsPrefix;
    }
    if (audit) {
        apiServer["audit-policy-file"] = audit.policyPath;
        apiServer["audit-log-path"] = `${audit.logDir}/audit.log`;
        apiServer["audit-log-maxage"] = String(audit.maxAgeDays);
        apiServer["audit-log-maxbackup"] = String(audit.maxBackups);
        apiServer["audit-log-maxsize"] = String(audit.maxSizeMiB);
        volumes.push(
            { name: audit.policyVolumeName, hostPath: audit.policyPath, mountPath: audit.policyPath, readOnly: true, pathType: "File" },
            { name: audit.logVolumeName, hostPath: audit.logDir, mountPath: audit.logDir, readOnly: false, pathType: "DirectoryOrCreate" },
        );
    }
    if (apiserverShutdown) {
        apiServer["shutdown-delay-duration"] = `${apiserverShutdown.delaySeconds}s`;
        if (apiserverShutdown.sendRetryAfter) apiServer["shutdown-send-retry-after"] = "true";
    }
    const etcdArgs: Record<string, string> = {};
    if (etcd?.autoCompactionRetention !== undefined) etcdArgs["auto-compaction-retention"] = etcd.autoCompactionRetention;
    if (etcd?.snapshotCount !== undefined) etcdArgs["snapshot-count"] = String(etcd.snapshotCount);
    return { apiServer, apiServerVolumes: volumes, etcd: etcdArgs };
}

export function hasDeclaredFlags(d: DeclaredFlags): boolean {
    return Object.keys(d.apiServer).length + Object.keys(d.etcd).length > 0;
}

/** A merge document over the declared flags and volumes: each flag's value, each volume's entry. */
function declaredDocument(d: DeclaredFlags, arg: (value: string) => unknown, volume: (v: HostPathMount) => Json): Json {
    const args = (map: Readonly<Record<string, string>>) => Object.fromEntries(Object.entries(map).map(([k, v]) => [k, arg(v)]));
    const document: Json = {};
    if (Object.keys(d.apiServer).length > 0) {
        document.apiServer = {
            extraArgs: args(d.apiServer),
            ...(d.apiServerVolumes.length > 0 ? { extraVolumes: d.apiServerVolumes.map(volume) } : {}),
        };
    }
    if (Object.keys(d.etcd).length > 0) document.etcd = { local: { extraArgs: args(d.etcd) } };
    return document;
}

/**
 * The ClusterConfiguration fragment phase 1.5 merges into kubeadm-config, in v1beta3 form
 * (extraArgs as a map); scripts/kubeadm/patch-cluster-config.py turns maps into v1beta4's
 * name/value lists and merges volumes by name.
 */
export function clusterConfigurationFragment(d: DeclaredFlags): Json {
    return declaredDocument(d, (value) => value, (v) => ({ ...v }));
}

/**
 * The document that takes phase 1.5's flags back out of the ClusterConfiguration (the patcher's
 * rules: a null extraArg is removed, a volume with $delete is removed), for its delete.
 */
export function clusterConfigurationRemoval(d: DeclaredFlags): Json {
    return declaredDocument(d, () => null, (v) => ({ name: v.name, $delete: true }));
}

/** `--component name=value` arguments for control-plane-flags.sh, sorted so runs compare equal. */
export function flagExpectations(d: DeclaredFlags): string[] {
    const pairs = (component: string, args: Readonly<Record<string, string>>) =>
        Object.keys(args).sort().flatMap((name) => [`--expect-${component}`, `${name}=${args[name]}`]);
    const mounts = d.apiServerVolumes.flatMap((v) => ["--expect-apiserver-mount", `${v.mountPath}:${v.readOnly ? "ro" : "rw"}`]);
    return [...pairs("apiserver", d.apiServer), ...mounts, ...pairs("etcd", d.etcd)];
}

// ---------------------------------------------------------------------------------------------
// Phase 4: cut-over

/** The URL every client uses after the cut-over: the VIP, not a name, so DNS is not on the path. */
export function vipServerUrl(cluster: ClusterConfig): string {
    return `https://${cluster.vip}:${cluster.apiserverPort}`;
}

/** The URL clients used before: the existing master directly. */
export function directServerUrl(existingMaster: MasterSpec, cluster: ClusterConfig): string {
    return `https://${existingMaster.ip}:${cluster.apiserverPort}`;
}

export interface CutoverNode {
    readonly name: string;
    /** Where SSH reaches the node: its IP when configured, otherwise its name in the domain. */
    readonly host: string;
    readonly role: "worker" | "master";
}

/**
 * Every node with a kubelet, workers first (the seed's 4.2), then the masters. Phase 4 flips the
 * workers' kubelets (kubeletCutoverNodes); phase 6 checks each against kubeletServerUrl.
 */
export function cutoverOrder(workers: readonly WorkerSpec[], masters: readonly MasterSpec[], domain: string): CutoverNode[] {
    return [
        ...workers.map((w): CutoverNode => ({ name: w.name, host: w.ip ?? `${w.name}.${domain}`, role: "worker" })),
        ...masters.map((m): CutoverNode => ({ name: m.name, host: m.ip, role: "master" })),
    ];
}

/**
 * The nodes whose kubelet phase 4 points at the VIP, one at a time: the workers. A control-plane
 * kubelet keeps its local apiserver: kubeadm 1.34's ControlPlaneKubeletLocalMode (beta, on by
 * default) writes a joining control-plane node's kubelet.conf with its own advertise address, and
 * `kubeadm upgrade apply|node` rewrites a kubelet.conf that names the controlPlaneEndpoint back to
 * that local address (phases/upgrade/postupgrade.go, UpdateKubeletKubeconfigServer). It also
 * keeps the control plane's own kubelets independent of the load balancer.
 */
export function kubeletCutoverNodes(workers: readonly WorkerSpec[], masters: readonly MasterSpec[], domain: string): CutoverNode[] {
    return cutoverOrder(workers, masters, domain).filter((n) => n.role === "worker");
}

/** Where a node's kubelet points once phase 4 ran: a worker at the VIP, a master at its own apiserver. */
export function kubeletServerUrl(node: CutoverNode, cluster: ClusterConfig): string {
    return node.role === "master" ? `https://${node.host}:${cluster.apiserverPort}` : vipServerUrl(cluster);
}

export interface ExternalConsumerOutput extends ExternalConsumer {
    readonly server: string;
    readonly replaces: string;
}

/** The stack output: what is left to flip by hand, with the server URL to put in. */
export function externalConsumersOutput(consumers: readonly ExternalConsumer[], server: string, replaces: string): ExternalConsumerOutput[] {
    return consumers.map((c) => ({ ...c, server, replaces }));
}

// ---------------------------------------------------------------------------------------------
// Phases 5 and 7: the control-plane quorum gate's figures

export interface ControlPlaneGateFigures {
    /** Control-plane nodes the topology plans; the gate blocks when the cluster shows another count. */
    readonly members: number;
    /** Ready control-plane nodes that must remain while one is down: quorumOf(members). */
    readonly quorum: number;
    readonly faultTolerance: number;
}

export function controlPlaneGateFigures(masters: readonly MasterSpec[]): ControlPlaneGateFigures {
    const members = masters.length;
    return { members, quorum: quorumOf(members), faultTolerance: faultTolerance(members) };
}

/** etcd static pod names (kubeadm: etcd-<node>), the only pods the gates may exec into. */
export function etcdPodNames(masters: readonly MasterSpec[]): string[] {
    return masters.map((m) => `etcd-${m.name}`);
}

// ---------------------------------------------------------------------------------------------
// The figures file the gate scripts source (gate.env, chain.env), written and read here

/** Variable names quorum-gate.sh reads from the figures file. */
export const GATE_ENV_MEMBERS = "CONTROL_PLANE_MEMBERS";
export const GATE_ENV_QUORUM = "CONTROL_PLANE_QUORUM";
/** The figures file of the kured gate's and of the upgrade chain's ConfigMap. */
export const KURED_GATE_ENV_FILE = "gate.env";
export const UPGRADE_CHAIN_ENV_FILE = "chain.env";

export function renderEnvFile(values: Readonly<Record<string, string | number>>): string {
    return Object.entries(values).map(([k, v]) => `${k}=${v}\n`).join("");
}

export function readEnvFile(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of text.split("\n")) {
        const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
        if (m) out[m[1]] = m[2];
    }
    return out;
}

/**
 * The rule for a control-plane quorum gate (kured's reboot gate, the upgrade chain's): it may
 * let a master go down only while at least quorumOf(n) control-plane nodes stay Ready, for the
 * planned n, and it must count the same n.
 */
export function checkQuorumGate(env: Readonly<Record<string, string>>, plannedMembers: number): string[] {
    const out: string[] = [];
    const members = Number(env[GATE_ENV_MEMBERS]);
    const quorum = Number(env[GATE_ENV_QUORUM]);
    const needed = quorumOf(plannedMembers);
    if (!Number.isInteger(quorum)) {
        out.push(`it sets no ${GATE_ENV_QUORUM} (got ${JSON.stringify(env[GATE_ENV_QUORUM] ?? null)}): it cannot tell when a reboot would cost etcd its quorum`);
    } else if (quorum < needed) {
        out.push(
            `it lets a master go down with only ${quorum} Ready control-plane node(s) left, but ${plannedMembers} planned etcd members need ` +
                `floor(${plannedMembers}/2)+1 = ${needed} for quorum: one more failure during the reboot would stop etcd`,
        );
    }
    if (Number.isInteger(members) && members !== plannedMembers) {
        out.push(`it counts ${members} control-plane members (${GATE_ENV_MEMBERS}) but the plan has ${plannedMembers}`);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Pods that must run on any control-plane node (etcd backup and defrag)

interface Toleration {
    readonly key?: string;
    readonly operator?: string;
    readonly value?: string;
    readonly effect?: string;
}

/** Whether a toleration lets a pod onto a node with the control-plane NoSchedule taint (which has no value). */
function toleratesControlPlane(t: Toleration): boolean {
    const keyMatches = t.key === CONTROL_PLANE_LABEL || (t.key === undefined && t.operator === "Exists");
    const effectMatches = t.effect === undefined || t.effect === "" || t.effect === "NoSchedule";
    const valueMatches = t.operator === "Exists" || t.value === undefined || t.value === "";
    return keyMatches && effectMatches && valueMatches;
}

const HOSTNAME_LABEL = "kubernetes.io/hostname";

/**
 * The rule for a pod that must run wherever a control-plane node is up: no nodeName and no
 * hostname pin (a named master that is down would stop it), the control-plane label as
 * nodeSelector (value "", as kubeadm sets it), and a toleration of the control-plane NoSchedule
 * taint. Returns what is wrong, in words.
 */
export function checkControlPlaneScheduling(podSpec: unknown): string[] {
    const spec = (podSpec ?? {}) as Record<string, unknown>;
    const out: string[] = [];
    if (typeof spec.nodeName === "string" && spec.nodeName !== "") {
        out.push(`it is pinned to node ${spec.nodeName} (nodeName): while that master is down the job does not run at all`);
    }
    const selector = (spec.nodeSelector ?? {}) as Record<string, unknown>;
    if (typeof selector[HOSTNAME_LABEL] === "string") {
        out.push(`its nodeSelector pins it to ${String(selector[HOSTNAME_LABEL])} (${HOSTNAME_LABEL}): it must be free to run on any control-plane node`);
    }
    const affinity = JSON.stringify(spec.affinity ?? {});
    if (affinity.includes(HOSTNAME_LABEL)) {
        out.push(`its node affinity names ${HOSTNAME_LABEL}: it must be free to run on any control-plane node`);
    }
    if (!(CONTROL_PLANE_LABEL in selector)) {
        out.push(`its nodeSelector lacks ${CONTROL_PLANE_LABEL}: it could land on a worker, which has no etcd member and no etcd client certificate`);
    } else if (selector[CONTROL_PLANE_LABEL] !== "") {
        out.push(`its nodeSelector asks ${CONTROL_PLANE_LABEL}=${JSON.stringify(selector[CONTROL_PLANE_LABEL])}, but kubeadm sets that label with an empty value: no node would match`);
    }
    const tolerations = Array.isArray(spec.tolerations) ? (spec.tolerations as Toleration[]) : [];
    if (!tolerations.some(toleratesControlPlane)) {
        out.push(`it does not tolerate the ${CONTROL_PLANE_LABEL}:NoSchedule taint: it could never be scheduled on a master`);
    }
    return out;
}
