/**
 * What quorum-gate.sh needs from the API, granted to the service accounts that run it
 * (the kured sentinel gate, the upgrade chain): read the nodes, and exec into the etcd static
 * pods of the stack's masters, by name, to ask etcd for its health with that pod's certificates.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { truncateKubernetesName } from "@ha-control-plane/topology";
import { stackLabels } from "./kubernetes";

export const GATE_ETCD_ROLE = "ha-control-plane-etcd-health";
export const GATE_NODES_ROLE = "ha-control-plane-node-reader";

/** Who may be asked: the stack (for the labels) and the etcd static pods of its masters. */
export interface GateScope {
    readonly stack: string;
    /** etcd-<master> for every master (topology etcdPodNames). */
    readonly etcdPods: readonly string[];
}

export function gateRoles(name: string, scope: GateScope, opts: pulumi.CustomResourceOptions): pulumi.Resource[] {
    const etcdPods = [...scope.etcdPods];
    const { stack } = scope;
    return [
        new k8s.rbac.v1.Role(
            `${name}-etcd-health`,
            {
                metadata: { name: GATE_ETCD_ROLE, namespace: "kube-system", labels: stackLabels(stack, GATE_ETCD_ROLE) },
                rules: [
                    { apiGroups: [""], resources: ["pods"], verbs: ["get"], resourceNames: etcdPods },
                    // kubectl exec opens a websocket (GET) since 1.30, a SPDY POST before.
                    { apiGroups: [""], resources: ["pods/exec"], verbs: ["create", "get"], resourceNames: etcdPods },
                ],
            },
            opts,
        ),
        new k8s.rbac.v1.ClusterRole(
            `${name}-node-reader`,
            {
                metadata: { name: GATE_NODES_ROLE, labels: stackLabels(stack, GATE_NODES_ROLE) },
                rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["get", "list"] }],
            },
            opts,
        ),
    ];
}

export interface ServiceAccountRef {
    readonly namespace: string;
    readonly name: string;
}

/** Binds a service account to the gate's roles (created in phase 5, bound again in phase 7). */
export function bindGate(name: string, stack: string, account: ServiceAccountRef, opts: pulumi.CustomResourceOptions): pulumi.Resource[] {
    const subjects = [{ kind: "ServiceAccount", namespace: account.namespace, name: account.name }];
    const bindingName = truncateKubernetesName(`${GATE_ETCD_ROLE}-${account.namespace}-${account.name}`);
    return [
        new k8s.rbac.v1.RoleBinding(
            `${name}-etcd-health-binding`,
            {
                metadata: { name: bindingName, namespace: "kube-system", labels: stackLabels(stack, GATE_ETCD_ROLE) },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: GATE_ETCD_ROLE },
                subjects,
            },
            opts,
        ),
        new k8s.rbac.v1.ClusterRoleBinding(
            `${name}-node-reader-binding`,
            {
                metadata: { name: truncateKubernetesName(`${GATE_NODES_ROLE}-${account.namespace}-${account.name}`), labels: stackLabels(stack, GATE_NODES_ROLE) },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: GATE_NODES_ROLE },
                subjects,
            },
            opts,
        ),
    ];
}
