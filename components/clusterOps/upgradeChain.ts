/**
 * Phase 7: the k8s-version-upgrade chain's master phase for every master. The chain's Job
 * mounts this ConfigMap and runs upgrade-chain.sh; chain.env carries the figures from the
 * topology (quorumOf) and the master that runs `kubeadm upgrade apply`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, controlPlaneGateFigures, GATE_ENV_MEMBERS, GATE_ENV_QUORUM, Topology, truncateKubernetesName, UPGRADE_CHAIN_ENV_FILE } from "../../topology";
import { childOf } from "../childOptions";
import { bindGate } from "./gateAccess";
import { kubernetesProvider, scriptsConfigMap, stackLabels } from "./kubernetes";

export const UPGRADE_CHAIN_CONFIGMAP = "upgrade-chain";
const DRAIN_ROLE = "ha-control-plane-upgrade-drain";

export class UpgradeChain extends pulumi.ComponentResource {
    readonly configMap: k8s.core.v1.ConfigMap;

    constructor(name: string, args: { readonly topology: Topology }, opts?: pulumi.ComponentResourceOptions) {
        super(COMPONENT_TYPES.upgradeChain, name, {}, opts);
        const { topology } = args;
        const upgrade = topology.clusterOps.upgrade;
        const figures = controlPlaneGateFigures(topology.masters);
        const child = childOf(this, opts, [], { provider: kubernetesProvider(topology) });
        const account = { namespace: upgrade.namespace, name: upgrade.serviceAccount };

        this.configMap = scriptsConfigMap(
            `${name}-scripts`,
            topology,
            {
                name: UPGRADE_CHAIN_CONFIGMAP,
                namespace: upgrade.namespace,
                scripts: ["upgrade-chain.sh", "node-upgrade.sh", "quorum-gate.sh"],
                env: {
                    file: UPGRADE_CHAIN_ENV_FILE,
                    values: {
                        [GATE_ENV_MEMBERS]: figures.members,
                        [GATE_ENV_QUORUM]: figures.quorum,
                        FIRST_MASTER: topology.existingMaster.name,
                        SSH_USER: topology.ssh.user,
                        DRAIN_TIMEOUT_SECONDS: upgrade.drainTimeoutSeconds,
                        READY_TIMEOUT_SECONDS: upgrade.readyTimeoutSeconds,
                    },
                },
            },
            child,
        );
        // kubectl drain and uncordon of the masters: cordon, evict, and see what runs where.
        const drain = new k8s.rbac.v1.ClusterRole(
            `${name}-drain`,
            {
                metadata: { name: DRAIN_ROLE, labels: stackLabels(topology, DRAIN_ROLE) },
                rules: [
                    { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "patch"] },
                    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "delete"] },
                    { apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"] },
                    { apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["get", "list"] },
                ],
            },
            child,
        );
        new k8s.rbac.v1.ClusterRoleBinding(
            `${name}-drain-binding`,
            {
                metadata: { name: truncateKubernetesName(`${DRAIN_ROLE}-${account.namespace}-${account.name}`), labels: stackLabels(topology, DRAIN_ROLE) },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: DRAIN_ROLE },
                subjects: [{ kind: "ServiceAccount", namespace: account.namespace, name: account.name }],
            },
            childOf(this, opts, [drain], { provider: child.provider }),
        );
        // The gate's roles were created in phase 5, which this phase depends on.
        bindGate(name, topology, account, child);
        this.registerOutputs({ members: figures.members, quorum: figures.quorum, firstMaster: topology.existingMaster.name });
    }
}
