/**
 * Phase 4.5: etcd backup and defrag as CronJobs that may run on any control-plane node
 * (nodeSelector on the control-plane label plus the matching toleration, never nodeName), so
 * they keep running whichever master is down.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, CONTROL_PLANE_LABEL, EtcdMaintenanceConfig } from "@ha-control-plane/topology";
import { childOf, providerFromOptions } from "../childOptions";
import { scriptsConfigMap, stackLabels } from "./kubernetes";

type PodSpec = k8s.types.input.core.v1.PodSpec;
type Volume = k8s.types.input.core.v1.Volume;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;

const PKI = "/etc/kubernetes/pki/etcd";
/** The client certificate kubeadm issues for etcd health checks; any CA-signed client may snapshot and defrag. */
const CLIENT_CERT_FILES = { ca: "ca.crt", cert: "healthcheck-client.crt", key: "healthcheck-client.key" } as const;
const LOCAL_ETCD = "https://127.0.0.1:2379";
const STORE_SCRIPT = "etcd-backup-store.sh";

/** The etcd CA and client pair, each file mounted alone and read-only (not the peer/server keys). */
function certVolumes(): { volumes: Volume[]; mounts: VolumeMount[]; flags: string[] } {
    const entries = Object.entries(CLIENT_CERT_FILES) as [keyof typeof CLIENT_CERT_FILES, string][];
    return {
        volumes: entries.map(([role, file]) => ({ name: `etcd-${role}`, hostPath: { path: `${PKI}/${file}`, type: "File" } })),
        mounts: entries.map(([role, file]) => ({ name: `etcd-${role}`, mountPath: `${PKI}/${file}`, readOnly: true })),
        flags: [`--cacert=${PKI}/${CLIENT_CERT_FILES.ca}`, `--cert=${PKI}/${CLIENT_CERT_FILES.cert}`, `--key=${PKI}/${CLIENT_CERT_FILES.key}`],
    };
}

/**
 * Any control-plane node, never a named one: hostNetwork reaches the node's own etcd member on
 * 127.0.0.1, and the toleration lets the pod onto the tainted masters.
 */
function onAnyControlPlaneNode(spec: PodSpec): PodSpec {
    return {
        ...spec,
        hostNetwork: true,
        dnsPolicy: "ClusterFirstWithHostNet",
        nodeSelector: { [CONTROL_PLANE_LABEL]: "" },
        tolerations: [{ key: CONTROL_PLANE_LABEL, operator: "Exists", effect: "NoSchedule" }],
        restartPolicy: "Never",
    };
}

function backupVolume(m: EtcdMaintenanceConfig): Volume {
    const v = m.backup.volume;
    // Directory, not DirectoryOrCreate: a missing mount must fail the job, not fill a local disk.
    return v.kind === "nfs" ? { name: "backup", nfs: { server: v.server, path: v.path } } : { name: "backup", hostPath: { path: v.path, type: "Directory" } };
}

export function backupPodSpec(m: EtcdMaintenanceConfig, scriptsConfigMap: string): PodSpec {
    const certs = certVolumes();
    const work: VolumeMount = { name: "work", mountPath: "/work" };
    return onAnyControlPlaneNode({
        // etcd's image is distroless: etcdctl and etcdutl run directly, the shell step runs after.
        initContainers: [
            {
                name: "snapshot",
                image: m.etcdImage,
                command: ["etcdctl", `--endpoints=${LOCAL_ETCD}`, ...certs.flags, "--dial-timeout=10s", "--command-timeout=600s", "snapshot", "save", "/work/snapshot.db"],
                securityContext: { runAsUser: 0 },
                volumeMounts: [...certs.mounts, work],
            },
            {
                name: "verify",
                image: m.etcdImage,
                command: ["etcdutl", "snapshot", "status", "/work/snapshot.db", "--write-out=table"],
                volumeMounts: [work],
            },
        ],
        containers: [
            {
                name: "store",
                image: m.shellImage,
                command: ["bash", `/scripts/${STORE_SCRIPT}`, "--snapshot", "/work/snapshot.db", "--dest", "/backup", "--keep", String(m.backup.retainCount), "--node", "$(NODE_NAME)"],
                env: [{ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
                securityContext: { runAsUser: 0 },
                volumeMounts: [work, { name: "backup", mountPath: "/backup" }, { name: "scripts", mountPath: "/scripts", readOnly: true }],
            },
        ],
        volumes: [
            ...certs.volumes,
            { name: "work", emptyDir: {} },
            backupVolume(m),
            { name: "scripts", configMap: { name: scriptsConfigMap, defaultMode: 0o555 } },
        ],
    });
}

/**
 * ahrtr/etcd-defrag: checks every member's health first, then defragments one member at a time
 * with the leader last; --continue-on-error=false stops at the first failure (never reaching the
 * leader after a follower failed). No compaction: the apiserver compacts on its own schedule.
 */
export function defragPodSpec(m: EtcdMaintenanceConfig): PodSpec {
    const certs = certVolumes();
    return onAnyControlPlaneNode({
        containers: [
            {
                name: "defrag",
                image: m.defragImage,
                args: [
                    `--endpoints=${LOCAL_ETCD}`,
                    "--cluster",
                    ...certs.flags,
                    "--continue-on-error=false",
                    "--compaction=false",
                    `--wait-between-defrags=${m.defrag.waitBetweenSeconds}s`,
                    "--command-timeout=120s",
                    `--defrag-rule=${m.defrag.rule}`,
                ],
                // The client key is root-only on the host.
                securityContext: { runAsUser: 0, runAsNonRoot: false },
                volumeMounts: certs.mounts,
            },
        ],
        volumes: certs.volumes,
    });
}

function cronJobSpec(m: EtcdMaintenanceConfig, schedule: string, labels: Record<string, string>, pod: PodSpec, activeDeadlineSeconds: number): k8s.types.input.batch.v1.CronJobSpec {
    return {
        schedule,
        ...(m.timeZone ? { timeZone: m.timeZone } : {}),
        concurrencyPolicy: "Forbid",
        startingDeadlineSeconds: 600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
            metadata: { labels },
            spec: {
                // A retry is a new pod, free to land on another master.
                backoffLimit: 2,
                activeDeadlineSeconds,
                template: { metadata: { labels }, spec: pod },
            },
        },
    };
}

export interface EtcdMaintenanceArgs {
    /** The stack's name, on every object's labels. */
    readonly stack: string;
    /** The CronJobs' namespace, images, schedules, retention and backup volume. */
    readonly maintenance: EtcdMaintenanceConfig;
}

/** Where the backups go, as an operator names it. */
function volumeSummary(v: EtcdMaintenanceConfig["backup"]["volume"]): string {
    return v.kind === "nfs" ? `nfs ${v.server}:${v.path}` : `hostPath ${v.path}`;
}

/** Options: `provider` (or `providers`) must carry the stack's Kubernetes provider. */
export class EtcdMaintenance extends pulumi.ComponentResource {
    readonly scripts: k8s.core.v1.ConfigMap;
    readonly backup: k8s.batch.v1.CronJob;
    readonly defrag: k8s.batch.v1.CronJob;

    constructor(name: string, args: EtcdMaintenanceArgs, opts?: pulumi.ComponentResourceOptions) {
        const { stack, maintenance: m } = args;
        super(
            COMPONENT_TYPES.etcdMaintenance,
            name,
            {
                stack,
                namespace: m.namespace,
                backupSchedule: m.backup.schedule,
                backupVolume: volumeSummary(m.backup.volume),
                retainCount: m.backup.retainCount,
                defragSchedule: m.defrag.schedule,
                ...(m.timeZone ? { timeZone: m.timeZone } : {}),
                images: { etcd: m.etcdImage, shell: m.shellImage, defrag: m.defragImage },
            },
            opts,
        );
        const child = childOf(this, opts, [], { provider: providerFromOptions(COMPONENT_TYPES.etcdMaintenance, opts, k8s.Provider) });

        const scriptsName = "etcd-backup-scripts";
        this.scripts = scriptsConfigMap(`${name}-scripts`, stack, { name: scriptsName, namespace: m.namespace, scripts: [STORE_SCRIPT] }, child);
        const backupLabels = stackLabels(stack, "etcd-backup");
        this.backup = new k8s.batch.v1.CronJob(
            `${name}-backup`,
            {
                metadata: { name: "etcd-backup", namespace: m.namespace, labels: backupLabels },
                spec: cronJobSpec(m, m.backup.schedule, backupLabels, backupPodSpec(m, scriptsName), 1800),
            },
            childOf(this, opts, [this.scripts], { provider: child.provider }),
        );
        const defragLabels = stackLabels(stack, "etcd-defrag");
        this.defrag = new k8s.batch.v1.CronJob(
            `${name}-defrag`,
            {
                metadata: { name: "etcd-defrag", namespace: m.namespace, labels: defragLabels },
                spec: cronJobSpec(m, m.defrag.schedule, defragLabels, defragPodSpec(m), 3600),
            },
            child,
        );
        this.registerOutputs({});
    }
}
