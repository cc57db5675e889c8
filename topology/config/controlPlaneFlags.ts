/**
 * Key `controlPlaneFlags` (phase 1.5): the apiserver and etcd flags every master carries. What
 * they become in the ClusterConfiguration is topology/clusterOps.ts's.
 */
import { parse } from "yaml";
import type { ApiserverShutdownFlags, AuditFlags, ControlPlaneFlagsConfig, EtcdTuning, OidcFlags, ProjectFileReader } from "../types";
import { absolutePath, k8sName } from "./fields";
import { ConfigObject, optionalObject, Reader } from "./reader";

/** Each optional block's defaults apply once the block is given (audit: {} turns the audit log on). */
export const CONTROL_PLANE_FLAGS_DEFAULTS = Object.freeze({
    healthTimeoutSeconds: 300,
    audit: Object.freeze({
        /** Relative to the project directory. */
        policyFile: "scripts/cluster/audit-policy.yaml",
        policyPath: "/etc/kubernetes/audit/policy.yaml",
        logDir: "/var/log/kubernetes/audit",
        policyVolumeName: "audit-policy",
        logVolumeName: "audit-logs",
        maxAgeDays: 7,
        maxBackups: 10,
        maxSizeMiB: 100,
    }),
    apiserverShutdown: Object.freeze({ delaySeconds: 5, sendRetryAfter: true }),
});

const DURATION = /^(\d+|(\d+h)?(\d+m)?(\d+s)?)$/;

function httpsUrl(r: Reader, obj: ConfigObject, field: string, key: string): string {
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
    const d = (doc ?? {}) as ConfigObject;
    if (d.apiVersion !== "audit.k8s.io/v1" || d.kind !== "Policy") return "must hold an audit.k8s.io/v1 Policy (apiVersion and kind)";
    if (!Array.isArray(d.rules) || d.rules.length === 0) return "must list at least one rule";
    const levels = ["None", "Metadata", "Request", "RequestResponse"];
    const bad = (d.rules as ConfigObject[]).findIndex((rule) => !levels.includes(String(rule?.level)));
    if (bad >= 0) return `rules[${bad}].level must be one of ${levels.join(", ")}`;
    return undefined;
}

function volumeNames(r: Reader, a: ConfigObject): Pick<AuditFlags, "policyVolumeName" | "logVolumeName"> {
    const policyVolumeName = k8sName(r, a, "policyVolumeName", "controlPlaneFlags.audit.policyVolumeName", CONTROL_PLANE_FLAGS_DEFAULTS.audit.policyVolumeName);
    const logVolumeName = k8sName(r, a, "logVolumeName", "controlPlaneFlags.audit.logVolumeName", CONTROL_PLANE_FLAGS_DEFAULTS.audit.logVolumeName);
    if (policyVolumeName && policyVolumeName === logVolumeName) {
        r.fail("controlPlaneFlags.audit.logVolumeName", logVolumeName, "must differ from controlPlaneFlags.audit.policyVolumeName");
    }
    return { policyVolumeName, logVolumeName };
}

function readAudit(r: Reader, value: unknown, readProjectFile: ProjectFileReader): AuditFlags | undefined {
    const a = optionalObject(r, value, "controlPlaneFlags.audit");
    if (!a) return undefined;
    const key = (f: string) => `controlPlaneFlags.audit.${f}`;
    const policyFile = r.string(a, "policyFile", key("policyFile"), CONTROL_PLANE_FLAGS_DEFAULTS.audit.policyFile);
    let policy = "";
    if (policyFile) {
        try {
            policy = readProjectFile(policyFile);
            const problem = checkAuditPolicy(policy);
            if (problem) r.fail(key("policyFile"), policyFile, problem);
        } catch {
            r.fail(key("policyFile"), policyFile, "must name a readable file, relative to the project directory");
        }
    }
    return {
        policy,
        policyFile,
        policyPath: absolutePath(r, a, "policyPath", key("policyPath"), CONTROL_PLANE_FLAGS_DEFAULTS.audit.policyPath),
        logDir: absolutePath(r, a, "logDir", key("logDir"), CONTROL_PLANE_FLAGS_DEFAULTS.audit.logDir),
        ...volumeNames(r, a),
        maxAgeDays: r.integer(a, "maxAgeDays", key("maxAgeDays"), 1, 3650, CONTROL_PLANE_FLAGS_DEFAULTS.audit.maxAgeDays),
        maxBackups: r.integer(a, "maxBackups", key("maxBackups"), 1, 1000, CONTROL_PLANE_FLAGS_DEFAULTS.audit.maxBackups),
        maxSizeMiB: r.integer(a, "maxSizeMiB", key("maxSizeMiB"), 1, 100000, CONTROL_PLANE_FLAGS_DEFAULTS.audit.maxSizeMiB),
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
    const delaySeconds = r.integer(o, "delaySeconds", key, 1, 3600, CONTROL_PLANE_FLAGS_DEFAULTS.apiserverShutdown.delaySeconds);
    if (delaySeconds > MAX_SHUTDOWN_DELAY_SECONDS) {
        r.fail(key, delaySeconds, `must be at most ${MAX_SHUTDOWN_DELAY_SECONDS}: the kubelet kills a static pod 30 s after SIGTERM, and the apiserver still has to drain after the delay`);
    }
    return {
        delaySeconds,
        sendRetryAfter: r.boolean(o, "sendRetryAfter", "controlPlaneFlags.apiserverShutdown.sendRetryAfter", CONTROL_PLANE_FLAGS_DEFAULTS.apiserverShutdown.sendRetryAfter),
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

export function readControlPlaneFlags(r: Reader, value: unknown, readProjectFile: ProjectFileReader): ControlPlaneFlagsConfig {
    const c = optionalObject(r, value, "controlPlaneFlags") ?? {};
    const oidc = readOidc(r, c.oidc);
    const audit = readAudit(r, c.audit, readProjectFile);
    const etcd = readEtcdTuning(r, c.etcd);
    const apiserverShutdown = readApiserverShutdown(r, c.apiserverShutdown);
    return {
        ...(oidc ? { oidc } : {}),
        ...(audit ? { audit } : {}),
        ...(etcd ? { etcd } : {}),
        ...(apiserverShutdown ? { apiserverShutdown } : {}),
        healthTimeoutSeconds: r.integer(c, "healthTimeoutSeconds", "controlPlaneFlags.healthTimeoutSeconds", 30, 3600, CONTROL_PLANE_FLAGS_DEFAULTS.healthTimeoutSeconds),
    };
}
