import { strict as assert } from "assert";
import { backupPodSpec, defragPodSpec } from "../../components/clusterOps/etcdMaintenance";
import { etcdJobsNotPinned, rebootGateQuorum } from "../../policies/clusterOps";
import {
    COMPONENT_TYPES as T,
    EtcdMaintenanceConfig,
    GATE_ENV_MEMBERS,
    GATE_ENV_QUORUM,
    KURED_GATE_ENV_FILE,
    memberTag,
    renderEnvFile,
    UPGRADE_CHAIN_ENV_FILE,
} from "@ha-control-plane/topology";
import { RecordedResource } from "../../tools/recorder";
import { cachedLab } from "../helpers/program";
import { component, recorded, resource, violationsOf } from "../helpers/policy";

const maintenance: EtcdMaintenanceConfig = {
    namespace: "kube-system",
    etcdImage: "registry.k8s.io/etcd:3.6.4-0",
    shellImage: "docker.io/library/debian:trixie-slim",
    defragImage: "ghcr.io/ahrtr/etcd-defrag:v0.41.0",
    backup: { schedule: "0 */6 * * *", retainCount: 28, volume: { kind: "hostPath", path: "/srv/nfs/etcd-backup" } },
    defrag: { schedule: "30 3 * * 0", rule: "dbSize > dbQuota*80/100", waitBetweenSeconds: 30 },
};

/** The etcd backup CronJob as phase 4.5 builds it; `edit` changes one field of its pod spec. */
function backupJob(edit: (pod: Record<string, any>) => void = () => undefined): RecordedResource[] {
    const pod = recorded(backupPodSpec(maintenance, "etcd-backup-scripts")) as Record<string, any>;
    edit(pod);
    const parent = component(T.etcdMaintenance, "etcd-maintenance");
    return [
        parent,
        resource("kubernetes:batch/v1:CronJob", "etcd-maintenance-backup", { metadata: { name: "etcd-backup", namespace: "kube-system" }, spec: { schedule: "0 */6 * * *", jobTemplate: { spec: { template: { spec: pod } } } } }, { parent: parent.urn }),
    ];
}

describe("policy etcd-jobs-not-pinned", () => {
    it("is mandatory", () => assert.equal(etcdJobsNotPinned.enforcementLevel, "mandatory"));

    it("passes the backup and defrag jobs as phase 4.5 builds them", async () => {
        assert.deepEqual(await violationsOf(etcdJobsNotPinned, backupJob()), []);
        const parent = component(T.etcdMaintenance, "etcd-maintenance");
        const defrag = resource("kubernetes:batch/v1:CronJob", "etcd-maintenance-defrag", { spec: { jobTemplate: { spec: { template: { spec: recorded(defragPodSpec(maintenance)) } } } } }, { parent: parent.urn });
        assert.deepEqual(await violationsOf(etcdJobsNotPinned, [parent, defrag]), []);
    });

    it("refuses a job pinned with nodeName (the seed's CronJobs were pinned to k8s-master)", async () => {
        const [v] = await violationsOf(etcdJobsNotPinned, backupJob((pod) => (pod.nodeName = "k8s-master")));
        assert.equal(v.enforcementLevel, "mandatory");
        assert.match(v.message, /etcd CronJob kube-system\/etcd-backup: it is pinned to node k8s-master \(nodeName\): while that master is down the job does not run at all/);
    });

    it("refuses a hostname nodeSelector", async () => {
        const [v] = await violationsOf(etcdJobsNotPinned, backupJob((pod) => (pod.nodeSelector["kubernetes.io/hostname"] = "k8s-master")));
        assert.match(v.message, /pins it to k8s-master \(kubernetes\.io\/hostname\)/);
    });

    it("refuses a job without the control-plane nodeSelector", async () => {
        const [v] = await violationsOf(etcdJobsNotPinned, backupJob((pod) => delete pod.nodeSelector));
        assert.match(v.message, /nodeSelector lacks node-role\.kubernetes\.io\/control-plane: it could land on a worker/);
    });

    it("refuses a control-plane selector with a value kubeadm never sets", async () => {
        const [v] = await violationsOf(etcdJobsNotPinned, backupJob((pod) => (pod.nodeSelector["node-role.kubernetes.io/control-plane"] = "true")));
        assert.match(v.message, /kubeadm sets that label with an empty value: no node would match/);
    });

    it("refuses a job without the control-plane toleration", async () => {
        const [v] = await violationsOf(etcdJobsNotPinned, backupJob((pod) => delete pod.tolerations));
        assert.match(v.message, /does not tolerate the node-role\.kubernetes\.io\/control-plane:NoSchedule taint/);
    });

    it("on the lab's recorded graph: both CronJobs pass; pinning the lab's backup is refused", async () => {
        const { resources } = await cachedLab("7");
        assert.deepEqual(await violationsOf(etcdJobsNotPinned, resources), []);
        const pinned = resources.map((r) => {
            if (r.name !== "etcd-maintenance-backup") return r;
            const spec = JSON.parse(JSON.stringify(r.inputs.spec));
            spec.jobTemplate.spec.template.spec.nodeName = "k8s-master";
            return { ...r, inputs: { ...r.inputs, spec } };
        });
        assert.equal((await violationsOf(etcdJobsNotPinned, pinned)).length, 1);
    });
});

/** A kured gate ConfigMap with these figures, and the new masters of a plan of `of` members. */
function gate(members: number, quorum: number | undefined, of = 3, type: string = T.kuredGate, file: string = KURED_GATE_ENV_FILE): RecordedResource[] {
    const parent = component(type, "kured-gate");
    const values: Record<string, number> = { [GATE_ENV_MEMBERS]: members, CHECK_INTERVAL_SECONDS: 300 };
    if (quorum !== undefined) values[GATE_ENV_QUORUM] = quorum;
    const vms = Array.from({ length: of - 1 }, (_, i) =>
        resource("proxmoxve:index/vmLegacy:VmLegacy", `m${i + 2}-vm`, { name: `k8s-master-${i + 2}`, nodeName: "pve", memory: { dedicated: 16384 }, tags: ["k8s-control-plane", memberTag(i + 2, of)] }),
    );
    return [
        ...vms,
        parent,
        resource("kubernetes:core/v1:ConfigMap", "kured-gate-scripts", { metadata: { name: "kured-control-plane-gate", namespace: "kured" }, data: { [file]: renderEnvFile(values), "quorum-gate.sh": "#!/bin/bash" } }, { parent: parent.urn }),
    ];
}

describe("policy reboot-gate-quorum", () => {
    it("is mandatory", () => assert.equal(rebootGateQuorum.enforcementLevel, "mandatory"));

    it("passes 3 members with a minimum of 2 Ready, and 5 with 3", async () => {
        assert.deepEqual(await violationsOf(rebootGateQuorum, gate(3, 2)), []);
        assert.deepEqual(await violationsOf(rebootGateQuorum, gate(5, 3, 5)), []);
    });

    it("refuses a gate that lets a 3-member control plane drop to 1 Ready node", async () => {
        const [v] = await violationsOf(rebootGateQuorum, gate(3, 1));
        assert.equal(v.enforcementLevel, "mandatory");
        assert.match(v.message, /the kured reboot gate \(ConfigMap kured\/kured-control-plane-gate, gate\.env\): it lets a master go down with only 1 Ready control-plane node\(s\) left, but 3 planned etcd members need floor\(3\/2\)\+1 = 2/);
    });

    it("refuses a gate still counting 3 members when 5 are planned", async () => {
        const violations = await violationsOf(rebootGateQuorum, gate(3, 2, 5));
        assert.equal(violations.length, 2);
        assert.match(violations[0].message, /only 2 Ready control-plane node\(s\) left, but 5 planned etcd members need floor\(5\/2\)\+1 = 3/);
        assert.match(violations[1].message, /it counts 3 control-plane members \(CONTROL_PLANE_MEMBERS\) but the plan has 5/);
    });

    it("refuses a gate without a quorum figure", async () => {
        const [v] = await violationsOf(rebootGateQuorum, gate(3, undefined));
        assert.match(v.message, /sets no CONTROL_PLANE_QUORUM/);
    });

    it("holds the upgrade chain's gate (chain.env) to the same rule", async () => {
        const [v] = await violationsOf(rebootGateQuorum, gate(3, 1, 3, T.upgradeChain, UPGRADE_CHAIN_ENV_FILE));
        assert.match(v.message, /^the upgrade chain's quorum gate .*chain\.env\): it lets a master go down with only 1/);
    });

    it("on the lab's recorded graph (phase 7): the kured gate and the upgrade chain both require 2 of 3", async () => {
        const { resources } = await cachedLab("7");
        assert.deepEqual(await violationsOf(rebootGateQuorum, resources), []);
        const weakened = resources.map((r) =>
            r.name === "kured-gate-scripts" ? { ...r, inputs: { ...r.inputs, data: { ...(r.inputs.data as Record<string, string>), [KURED_GATE_ENV_FILE]: renderEnvFile({ [GATE_ENV_MEMBERS]: 3, [GATE_ENV_QUORUM]: 1 }) } } } : r,
        );
        assert.equal((await violationsOf(rebootGateQuorum, weakened)).length, 1);
    });
});
