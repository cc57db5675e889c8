/**
 * The cluster-wide phases' Kubernetes objects: etcd maintenance runs on any control-plane node
 * (etcd-jobs-not-pinned), and the quorum gates count right (reboot-gate-quorum).
 */
import { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import {
    checkControlPlaneScheduling,
    checkQuorumGate,
    COMPONENT_TYPES,
    GATE_ENV_MEMBERS,
    KURED_GATE_ENV_FILE,
    readEnvFile,
    UPGRADE_CHAIN_ENV_FILE,
} from "@ha-control-plane/topology";
import { CONFIGMAP_TYPE, CRONJOB_TYPE, known, knownString, plannedVms, stepsOf } from "./resources";

function objectName(r: PolicyResource): string {
    const meta = known(() => r.props.metadata as { name?: unknown; namespace?: unknown } | undefined);
    const name = typeof meta?.name === "string" ? meta.name : r.name;
    return typeof meta?.namespace === "string" ? `${meta.namespace}/${name}` : name;
}

export const etcdJobsNotPinned: StackValidationPolicy = {
    name: "etcd-jobs-not-pinned",
    description:
        "The etcd backup and defrag CronJobs have no nodeName (nor a hostname pin), and do have the control-plane " +
        "nodeSelector and toleration: they run on whichever master is up, so backups continue while one is down.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        for (const job of stepsOf(args.resources, [COMPONENT_TYPES.etcdMaintenance]).filter((r) => r.type === CRONJOB_TYPE)) {
            const podSpec = known(() => (job.props.spec as { jobTemplate?: { spec?: { template?: { spec?: unknown } } } } | undefined)?.jobTemplate?.spec?.template?.spec);
            for (const problem of checkControlPlaneScheduling(podSpec)) reportViolation(`etcd CronJob ${objectName(job)}: ${problem}`, job.urn);
        }
    },
};

/** The planned control-plane size, from the new masters' VMs (etcd-member-K-of-N tags). */
function plannedControlPlaneSize(resources: readonly PolicyResource[]): number | undefined {
    const sizes = plannedVms(resources).flatMap((vm) => (vm.member ? [vm.member.of] : []));
    return sizes.length > 0 ? Math.max(...sizes) : undefined;
}

const GATES = [
    { type: COMPONENT_TYPES.kuredGate, file: KURED_GATE_ENV_FILE, what: "the kured reboot gate" },
    { type: COMPONENT_TYPES.upgradeChain, file: UPGRADE_CHAIN_ENV_FILE, what: "the upgrade chain's quorum gate" },
] as const;

export const rebootGateQuorum: StackValidationPolicy = {
    name: "reboot-gate-quorum",
    description:
        "The kured reboot gate (and the upgrade chain's gate) lets a master go down only while at least floor(n/2)+1 " +
        "control-plane nodes stay Ready, for the planned n etcd members, so a reboot never costs etcd its quorum.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const planned = plannedControlPlaneSize(args.resources);
        for (const gate of GATES) {
            for (const cm of stepsOf(args.resources, [gate.type]).filter((r) => r.type === CONFIGMAP_TYPE)) {
                const text = knownString(() => (cm.props.data as Record<string, unknown> | undefined)?.[gate.file]);
                if (text === undefined) continue; // another ConfigMap of the component, or unknown yet
                const env = readEnvFile(text);
                // Without new masters in the stack the gate's own count is all there is to go by.
                const n = planned ?? Number(env[GATE_ENV_MEMBERS]);
                if (!Number.isInteger(n) || n < 1) {
                    reportViolation(`${gate.what} (ConfigMap ${objectName(cm)}): no planned control-plane size to check it against`, cm.urn);
                    continue;
                }
                for (const problem of checkQuorumGate(env, n)) reportViolation(`${gate.what} (ConfigMap ${objectName(cm)}, ${gate.file}): ${problem}`, cm.urn);
            }
        }
    },
};
