/**
 * Phase 7: the k8s-version-upgrade chain's master phase for every master. The chain's Job
 * mounts this ConfigMap and runs upgrade-chain.sh; chain.env carries the figures from the
 * topology (quorumOf) and the master that runs `kubeadm upgrade apply`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    COMPONENT_TYPES,
    ControlPlaneGateFigures,
    GATE_ENV_MEMBERS,
    GATE_ENV_QUORUM,
    truncateKubernetesName,
    UPGRADE_CHAIN_ENV_FILE,
    UpgradeChainConfig,
} from "@ha-control-plane/topology";
import { childOf, providerFromOptions } from "../childOptions";
import { bindGate } from "./gateAccess";
import { scriptsConfigMap, stackLabels } from "./kubernetes";

export const UPGRADE_CHAIN_CONFIGMAP = "upgrade-chain";
const DRAIN_ROLE = "ha-control-plane-upgrade-drain";

export interface UpgradeChainArgs {
    /** The stack's name, on every object's labels. */
    readonly stack: string;
    /** The planned control plane's size and quorum (topology controlPlaneGateFigures), for chain.env. */
    readonly figures: ControlPlaneGateFigures;
    /** The master that runs `kubeadm upgrade apply` (the existing one); the others run `upgrade node`. */
    readonly firstMaster: string;
    /** The user the chain's Job logs in as on each master. */
    readonly sshUser: string;
    /** The chain's namespace, service account and timeouts. */
    readonly upgrade: UpgradeChainConfig;
}

/**
 * Options: `provider` (or `providers`) must carry the stack's Kubernetes provider. The gate's
 * roles come from phase 5 (KuredGate); this binds the chain's service account to them.
 */
export class UpgradeChain extends pulumi.ComponentResource {
    readonly configMap: k8s.core.v1.ConfigMap;

    constructor(name: string, args: UpgradeChainArgs, opts?: pulumi.ComponentResourceOptions) {
        const { stack, figures, firstMaster, sshUser, upgrade } = args;
        super(
            COMPONENT_TYPES.upgradeChain,
            name,
            {
                stack,
                namespace: upgrade.namespace,
                serviceAccount: upgrade.serviceAccount,
                members: figures.members,
                quorum: figures.quorum,
                firstMaster,
                sshUser,
                drainTimeoutSeconds: upgrade.drainTimeoutSeconds,
                readyTimeoutSeconds: upgrade.readyTimeoutSeconds,
            },
            opts,
        );
        const child = childOf(this, opts, [], { provider: providerFromOptions(COMPONENT_TYPES.upgradeChain, opts, k8s.Provider) });
        const account = { namespace: upgrade.namespace, name: upgrade.serviceAccount };

        this.configMap = scriptsConfigMap(
            `${name}-scripts`,
            stack,
            {
                name: UPGRADE_CHAIN_CONFIGMAP,
                namespace: upgrade.namespace,
                scripts: ["upgrade-chain.sh", "node-upgrade.sh", "quorum-gate.sh"],
                env: {
                    file: UPGRADE_CHAIN_ENV_FILE,
                    values: {
                        [GATE_ENV_MEMBERS]: figures.members,
                        [GATE_ENV_QUORUM]: figures.quorum,
                        FIRST_MASTER: firstMaster,
                        SSH_USER: sshUser,
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
                metadata: { name: DRAIN_ROLE, labels: stackLabels(stack, DRAIN_ROLE) },
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
                metadata: { name: truncateKubernetesName(`${DRAIN_ROLE}-${account.namespace}-${account.name}`), labels: stackLabels(stack, DRAIN_ROLE) },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: DRAIN_ROLE },
                subjects: [{ kind: "ServiceAccount", namespace: account.namespace, name: account.name }],
            },
            childOf(this, opts, [drain], { provider: child.provider }),
        );
        // The gate's roles were created in phase 5, which this phase depends on.
        bindGate(name, stack, account, child);
        this.registerOutputs({ members: figures.members, quorum: figures.quorum, firstMaster });
    }
}
